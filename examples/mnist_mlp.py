"""MNIST MLP (Keras' examples/mnist_mlp.py) trained on scikit-learn's 8x8 handwritten digits.

    python examples/mnist_mlp.py          # ~97-98% test accuracy in about 10 s of training
    python examples/mnist_mlp.py --smoke  # one epoch, to check the path
"""

from _common import deploy, header, line, parse_args, report_metrics, report_training, timed
from _data import load_digits

import kir
from kir.layers import Dense, Dropout
from kir.models import Sequential
from kir.optimizers import RMSprop

batch_size = 32  # Keras' example uses 128 on 60,000 MNIST images; the digits set has 1,347
num_classes = 10


def build_model(input_dim: int = 64) -> Sequential:
    """The Keras example's MLP; the digits are 8x8, so the input is 64 wide instead of 784."""
    model = Sequential()
    model.add(Dense(512, activation='relu', input_shape=(input_dim,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation='relu'))
    model.add(Dropout(0.2))
    model.add(Dense(num_classes, activation='softmax'))
    return model


def main() -> None:
    args = parse_args(__doc__, epochs=20)
    digits = load_digits(args.seed, limit=256 if args.smoke else None)
    x_train, x_test = digits.x_train.reshape(-1, 64), digits.x_test.reshape(-1, 64)
    y_train = kir.utils.to_categorical(digits.y_train, num_classes)
    y_test = kir.utils.to_categorical(digits.y_test, num_classes)

    header("mnist_mlp: digits (8x8) -> MLP")
    model = build_model()
    line("model", f"{model.name}: {len(model.layers)} layers, {model.count_params():,} parameters")
    model.compile(loss='categorical_crossentropy', optimizer=RMSprop(), metrics=['accuracy'])
    with timed() as t:
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=args.epochs, verbose=2,
                            validation_data=(x_test, y_test))
    report_training(history, t.seconds, len(x_train))
    report_metrics(model, x_test, y_test)
    deploy(model, x_test, args, "mnist_mlp")


if __name__ == "__main__":
    main()
