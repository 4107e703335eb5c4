"""MNIST CNN (Keras' examples/mnist_cnn.py) trained on scikit-learn's 8x8 handwritten digits.

    python examples/mnist_cnn.py          # ~98% test accuracy in about 15 s of training
    python examples/mnist_cnn.py --smoke  # one epoch, to check the path
    kir-export examples/mnist_cnn.py:build_model model.onnx --check   # the untrained graph

The convolutions use padding='same' (Keras' example uses 'valid' on 28x28): on 8x8 digits that
keeps a 4x4 map after pooling instead of 2x2.
"""

from _common import deploy, header, line, parse_args, report_metrics, report_training, timed
from _data import load_digits

import kir
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


def load_data(seed: int = 0, limit: int | None = None) -> tuple:
    """Digits as (n, 8, 8, 1) images with one-hot labels: x_train, y_train, x_test, y_test."""
    digits = load_digits(seed, limit=limit)
    x_train = digits.x_train.reshape(-1, img_rows, img_cols, 1)
    x_test = digits.x_test.reshape(-1, img_rows, img_cols, 1)
    y_train = kir.utils.to_categorical(digits.y_train, num_classes)
    y_test = kir.utils.to_categorical(digits.y_test, num_classes)
    return x_train, y_train, x_test, y_test


def main() -> None:
    args = parse_args(__doc__, epochs=15)
    x_train, y_train, x_test, y_test = load_data(args.seed, limit=256 if args.smoke else None)

    header("mnist_cnn: digits (8x8) -> CNN")
    model = build_model()
    line("model", f"{model.name}: {len(model.layers)} layers, {model.count_params():,} parameters")
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    with timed() as t:
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=args.epochs, verbose=2,
                            validation_data=(x_test, y_test))
    report_training(history, t.seconds, len(x_train))
    report_metrics(model, x_test, y_test)
    deploy(model, x_test, args, "mnist_cnn")


if __name__ == "__main__":
    main()
