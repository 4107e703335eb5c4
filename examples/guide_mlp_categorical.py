"""The guide's 10-class classifier (Training section): Dense(32, relu) -> Dense(10, softmax).

The model is written once in the zoo: kir.zoo.guide.mlp_categorical (kir/zoo/guide.py). The guide
trains on random labels; here each class k raises features 10k..10k+9 by 0.5 above the uniform
noise, so there is something to learn.

    python examples/guide_mlp_categorical.py [--smoke] [--epochs N]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train

import kir
from kir.zoo.guide import mlp_categorical


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Features and one-hot labels (the guide's `to_categorical(labels, num_classes=10)`)."""
    labels = rng.integers(10, size=(n, 1))
    data = rng.random((n, 100))
    data[np.arange(n)[:, None], 10 * labels + np.arange(10)] += 0.5
    return data, kir.utils.to_categorical(labels, num_classes=10)


def main() -> None:
    args = parse_args(__doc__, epochs=10)
    size = sizes(args, default={"train": 1000, "test": 500}, smoke={"train": 64, "test": 32})
    data, one_hot_labels = make_data(size.train, args.rng)
    test_data, test_labels = make_data(size.test, args.rng)

    # the guide's 10-class classifier: kir.zoo.guide.mlp_categorical
    model = mlp_categorical()
    describe("guide: 10-class MLP", model)
    model.compile(optimizer='rmsprop',
                  loss='categorical_crossentropy',
                  metrics=['accuracy'])
    # Train the model, iterating on the data in batches of 32 samples
    train(model, data, one_hot_labels, args, batch_size=32)
    evaluate_and_deploy(model, test_data, test_labels, args, "guide_mlp_categorical", baseline="chance 0.1000")


if __name__ == "__main__":
    main()
