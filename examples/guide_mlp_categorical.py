"""The guide's 10-class classifier (Training section): Dense(32, relu) -> Dense(10, softmax).

The guide trains on random labels; here each class k raises features 10k..10k+9 by 0.5 above the
uniform noise, so there is something to learn.

    python examples/guide_mlp_categorical.py [--smoke] [--epochs N]
"""

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed

import kir
from kir.layers import Dense
from kir.models import Sequential


def build_model() -> Sequential:
    model = Sequential()
    model.add(Dense(32, activation='relu', input_dim=100))
    model.add(Dense(10, activation='softmax'))
    return model


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(10, size=(n, 1))
    data = rng.random((n, 100))
    data[np.arange(n)[:, None], 10 * labels + np.arange(10)] += 0.5
    return data, labels


def main() -> None:
    args = parse_args(__doc__, epochs=10)
    size = sizes(args, default={"train": 1000, "test": 500}, smoke={"train": 64, "test": 32})
    rng = np.random.default_rng(args.seed)
    data, labels = make_data(size.train, rng)
    test_data, test_labels = make_data(size.test, rng)

    header("guide: 10-class MLP")
    model = build_model()
    line("model", f"{model.name}: {model.count_params():,} parameters")
    model.compile(optimizer='rmsprop',
                  loss='categorical_crossentropy',
                  metrics=['accuracy'])
    # Convert labels to categorical one-hot encoding
    one_hot_labels = kir.utils.to_categorical(labels, num_classes=10)
    with timed() as t:
        # Train the model, iterating on the data in batches of 32 samples
        history = model.fit(data, one_hot_labels, epochs=args.epochs, batch_size=32, verbose=2)
    report_training(history, t.seconds, len(data))
    report_metrics(model, test_data, kir.utils.to_categorical(test_labels, num_classes=10))
    line("baseline", "chance 0.1000")
    deploy(model, test_data, args, "guide_mlp_categorical")


if __name__ == "__main__":
    main()
