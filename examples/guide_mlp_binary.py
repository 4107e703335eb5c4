"""The guide's binary classifier (Training section): Dense(32, relu) -> Dense(1, sigmoid) on 100 features.

The model is written once in the zoo: kir.zoo.guide.mlp_binary (kir/zoo/guide.py). The guide trains
on random labels; here the label says whether the first ten features sum above 5, so there is
something to learn.

    python examples/guide_mlp_binary.py [--smoke] [--epochs N]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, majority_class, parse_args, sizes, train

from kir.zoo.guide import mlp_binary


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    data = rng.random((n, 100))
    labels = (data[:, :10].sum(axis=1) > 5).astype(int).reshape(-1, 1)
    return data, labels


def main() -> None:
    args = parse_args(__doc__, epochs=10)
    size = sizes(args, default={"train": 1000, "test": 500}, smoke={"train": 64, "test": 32})
    data, labels = make_data(size.train, args.rng)
    test_data, test_labels = make_data(size.test, args.rng)

    # the guide's binary classifier: kir.zoo.guide.mlp_binary
    model = mlp_binary()
    describe("guide: binary MLP", model)
    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    # Train the model, iterating on the data in batches of 32 samples
    train(model, data, labels, args, batch_size=32)
    evaluate_and_deploy(model, test_data, test_labels, args, "guide_mlp_binary",
                        baseline=majority_class(test_labels))


if __name__ == "__main__":
    main()
