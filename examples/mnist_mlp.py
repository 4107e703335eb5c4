"""MNIST MLP (Keras' examples/mnist_mlp.py) trained on scikit-learn's 8x8 handwritten digits.

The model is written once in the zoo: kir.zoo.keras_examples.mnist_mlp (kir/zoo/keras_examples.py),
here 64 inputs wide (8x8 digits) instead of 784.

    python examples/mnist_mlp.py          # ~97-98% test accuracy in about 10 s of training
    python examples/mnist_mlp.py --smoke  # one epoch, to check the path
"""

from _common import describe, evaluate_and_deploy, parse_args, train
from _data import digits_one_hot

from kir.optimizers import RMSprop
from kir.zoo.keras_examples import mnist_mlp

batch_size = 32  # Keras' example uses 128 on 60,000 MNIST images; the digits set has 1,347


def main() -> None:
    args = parse_args(__doc__, epochs=20)
    x_train, y_train, x_test, y_test = digits_one_hot(args.seed, limit=256 if args.smoke else None, shape=(64,))

    # Keras' mnist_mlp.py model (Dense 512, Dropout 0.2, twice; softmax): kir.zoo.keras_examples.mnist_mlp
    model = mnist_mlp(input_dim=64)
    describe("mnist_mlp: digits (8x8) -> MLP", model, f"{len(model.layers)} layers")
    model.compile(loss='categorical_crossentropy', optimizer=RMSprop(), metrics=['accuracy'])
    train(model, x_train, y_train, args, batch_size=batch_size, validation_data=(x_test, y_test))
    evaluate_and_deploy(model, x_test, y_test, args, "mnist_mlp")


if __name__ == "__main__":
    main()
