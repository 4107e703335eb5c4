"""The guide's shared vision model: one CNN (a Model) applied to two digit images, weights and all.

The digits are scikit-learn's handwritten digits, scaled up to the guide's 27x27 under --full
(16x16 by default). The guide wants to tell whether two digits are the same, but its head adds
the two encodings up linearly (Dense on a concatenation), which cannot express equality; so the
pairs here show two different digits and the label says whether the first is the larger one,
which a score per image, compared by the head, can learn.

    python examples/guide_shared_vision.py [--smoke] [--full: 27x27 digits as in the guide]
"""

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed
from _data import load_digits

import kir
from kir.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from kir.models import Model


def build_model(size: int = 27) -> tuple[Model, Model]:
    """The vision model and the classification model that calls it twice."""
    # First, define the vision modules
    digit_input = Input(shape=(size, size, 1))
    x = Conv2D(64, (3, 3))(digit_input)
    x = Conv2D(64, (3, 3))(x)
    x = MaxPooling2D((2, 2))(x)
    out = Flatten()(x)

    vision_model = Model(digit_input, out)

    # Then define the tell-digits-apart model
    digit_a = Input(shape=(size, size, 1))
    digit_b = Input(shape=(size, size, 1))

    # The vision model will be shared, weights and all
    out_a = vision_model(digit_a)
    out_b = vision_model(digit_b)

    concatenated = kir.layers.concatenate([out_a, out_b])
    out = Dense(1, activation='sigmoid')(concatenated)

    classification_model = Model([digit_a, digit_b], out)
    return vision_model, classification_model


def upscale(images: np.ndarray, size: int) -> np.ndarray:
    """8x8 digits to size x size: each pixel repeated size // 8 times, then zero-padded."""
    k = size // 8
    big = np.kron(images, np.ones((k, k), dtype='float32'))
    pad = size - 8 * k
    return np.pad(big, ((0, 0), (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2)))[..., None]


def make_pairs(images: np.ndarray, digits: np.ndarray, n: int, rng: np.random.Generator) -> tuple:
    a = rng.integers(0, len(digits), size=n)
    b = rng.integers(0, len(digits), size=n)
    keep = digits[a] != digits[b]
    a, b = a[keep], b[keep]
    labels = (digits[a] > digits[b]).astype('float32').reshape(-1, 1)
    return images[a], images[b], labels


def main() -> None:
    args = parse_args(__doc__, epochs=5, full=True)
    size = sizes(args, default={"pairs": 3000, "size": 16}, full={"pairs": 6000, "size": 27},
                 smoke={"pairs": 64, "size": 8})
    rng = np.random.default_rng(args.seed)
    digits = load_digits(args.seed)
    train_a, train_b, labels = make_pairs(upscale(digits.x_train, size.size), digits.y_train, size.pairs, rng)
    test_a, test_b, test_labels = make_pairs(upscale(digits.x_test, size.size), digits.y_test,
                                             max(64, size.pairs // 4), rng)

    header("guide: shared vision model on digit pairs")
    vision_model, classification_model = build_model(size.size)
    line("model", f"vision {vision_model.count_params():,} parameters, shared by both inputs of the "
                  f"classifier ({classification_model.count_params():,} in all)")
    classification_model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['accuracy'])
    with timed() as t:
        history = classification_model.fit([train_a, train_b], labels, epochs=args.epochs, batch_size=32,
                                           verbose=2)
    report_training(history, t.seconds, len(labels))
    report_metrics(classification_model, [test_a, test_b], test_labels)
    deploy(classification_model, [test_a, test_b], args, "guide_shared_vision")


if __name__ == "__main__":
    main()
