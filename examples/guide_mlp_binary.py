"""The guide's binary classifier (Training section): Dense(32, relu) -> Dense(1, sigmoid) on 100 features.

The guide trains on random labels; here the label says whether the first ten features sum above 5,
so there is something to learn.

    python examples/guide_mlp_binary.py [--smoke] [--epochs N]
"""

import numpy as np
from _common import accuracy, deploy, header, line, parse_args, report_metrics, report_training, sizes, timed

from kir.layers import Dense
from kir.models import Sequential


def build_model() -> Sequential:
    model = Sequential()
    model.add(Dense(32, activation='relu', input_dim=100))
    model.add(Dense(1, activation='sigmoid'))
    return model


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    data = rng.random((n, 100))
    labels = (data[:, :10].sum(axis=1) > 5).astype(int).reshape(-1, 1)
    return data, labels


def main() -> None:
    args = parse_args(__doc__, epochs=10)
    size = sizes(args, default={"train": 1000, "test": 500}, smoke={"train": 64, "test": 32})
    rng = np.random.default_rng(args.seed)
    data, labels = make_data(size.train, rng)
    test_data, test_labels = make_data(size.test, rng)

    header("guide: binary MLP")
    model = build_model()
    line("model", f"{model.name}: {model.count_params():,} parameters")
    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    with timed() as t:
        # Train the model, iterating on the data in batches of 32 samples
        history = model.fit(data, labels, epochs=args.epochs, batch_size=32, verbose=2)
    report_training(history, t.seconds, len(data))
    report_metrics(model, test_data, test_labels)
    line("baseline", f"majority class {accuracy(test_labels, np.full(test_labels.shape, test_labels.mean())):.4f}")
    deploy(model, test_data, args, "guide_mlp_binary")


if __name__ == "__main__":
    main()
