"""MNIST CNN (Keras' examples/mnist_cnn.py) trained on scikit-learn's 8x8 handwritten digits.

    python examples/mnist_cnn.py          # ~98% test accuracy in about 15 s of training
    python examples/mnist_cnn.py --smoke  # one epoch, to check the path
    kir-export examples/mnist_cnn.py:build_model model.onnx --check   # the untrained graph

The convolutions use padding='same' (Keras' example uses 'valid' on 28x28): on 8x8 digits that
keeps a 4x4 map after pooling instead of 2x2. That padding is why the model is written here and not
taken from kir.zoo.keras_examples.mnist_cnn (the zoo's copy of Keras' example, 'valid' padding only).
"""

from _common import describe, evaluate_and_deploy, parse_args, train
from _data import digits_one_hot

from kir.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from kir.models import Sequential

batch_size = 32  # Keras' example uses 128 on 60,000 MNIST images; the digits set has 1,347
num_classes = 10
img_rows, img_cols = 8, 8


def build_model() -> Sequential:
    """The Keras example's CNN, for 8x8x1 digits."""
    input_shape = (img_rows, img_cols, 1)
    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), padding='same', activation='relu', input_shape=input_shape))
    model.add(Conv2D(64, (3, 3), padding='same', activation='relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(128, activation='relu'))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes, activation='softmax'))
    return model


def main() -> None:
    args = parse_args(__doc__, epochs=15)
    x_train, y_train, x_test, y_test = digits_one_hot(args.seed, limit=256 if args.smoke else None)

    model = build_model()
    describe("mnist_cnn: digits (8x8) -> CNN", model, f"{len(model.layers)} layers")
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    train(model, x_train, y_train, args, batch_size=batch_size, validation_data=(x_test, y_test))
    evaluate_and_deploy(model, x_test, y_test, args, "mnist_cnn")


if __name__ == "__main__":
    main()
