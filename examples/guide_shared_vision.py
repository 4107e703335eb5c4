"""The guide's shared vision model: one CNN (a Model) applied to two digit images, weights and all.

The digits are scikit-learn's handwritten digits, scaled up to the guide's 27x27 under --full
(16x16 by default). The guide wants to tell whether two digits are the same, but its head adds
the two encodings up linearly (Dense on a concatenation), which cannot express equality; so the
pairs here show two different digits and the label says whether the first is the larger one,
which a score per image, compared by the head, can learn.

The model is the guide's code, written once in the zoo: kir.zoo.guide.shared_vision_parts
(kir/zoo/guide.py), which also returns the vision model it shares.

    python examples/guide_shared_vision.py [--smoke] [--full: 27x27 digits as in the guide]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train
from _data import load_digits

from kir.zoo.guide import shared_vision_parts


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
    digits = load_digits(args.seed)
    train_a, train_b, labels = make_pairs(upscale(digits.x_train, size.size), digits.y_train, size.pairs, args.rng)
    test_a, test_b, test_labels = make_pairs(upscale(digits.x_test, size.size), digits.y_test,
                                             max(64, size.pairs // 4), args.rng)

    # the guide's shared vision model: kir.zoo.guide.shared_vision_parts
    parts = shared_vision_parts(size.size)
    vision_model, classification_model = parts.vision_model, parts.classification_model
    describe("guide: shared vision model on digit pairs", classification_model,
             f"vision model ({vision_model.count_params():,} parameters) shared by both inputs")
    classification_model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['accuracy'])
    train(classification_model, [train_a, train_b], labels, args, batch_size=32)
    evaluate_and_deploy(classification_model, [test_a, test_b], test_labels, args, "guide_shared_vision")


if __name__ == "__main__":
    main()
