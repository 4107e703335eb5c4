"""The guide's Inception block (three towers, concatenated), trained with a small classifier on top.

The block is the guide's code, written once in the zoo: kir.zoo.guide.inception (kir/zoo/guide.py),
including `concatenate(..., axis=1)`, which on channels-last maps stacks the towers along the image
height. A block alone has nothing to train against, so a GlobalAveragePooling2D + Dense softmax head
classifies generated textures: horizontal, vertical or diagonal stripes, or a checkerboard, in a
random colour with noise.

    python examples/guide_inception.py [--smoke] [--full: 256x256 images]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train

import kir
from kir.layers import Dense, GlobalAveragePooling2D
from kir.models import Model
from kir.zoo.guide import inception

num_classes = 4


def build_model(size: int = 256) -> Model:
    # the guide's Inception block: kir.zoo.guide.inception
    block = inception(size)
    # the head that makes the block trainable (not in the guide)
    features = GlobalAveragePooling2D()(block.output)
    predictions = Dense(num_classes, activation='softmax')(features)
    return Model(inputs=block.input, outputs=predictions)


def make_data(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Textures of period 4 pixels: class 0 horizontal, 1 vertical, 2 diagonal stripes, 3 checkerboard."""
    labels = rng.integers(0, num_classes, size=n)
    rows, cols = np.mgrid[0:size, 0:size]
    phase = rng.integers(0, 4, size=(n, 1, 1))
    patterns = np.stack([(rows[None] + phase) // 2 % 2, (cols[None] + phase) // 2 % 2,
                         (rows[None] + cols[None] + phase) // 2 % 2,
                         ((rows[None] + phase) // 2 + (cols[None] + phase) // 2) % 2])
    texture = patterns[labels, np.arange(n)].astype('float32')
    colour = rng.uniform(0.3, 1.0, size=(n, 1, 1, 3)).astype('float32')
    images = texture[..., None] * colour + rng.normal(0, 0.2, size=(n, size, size, 3)).astype('float32')
    return images, kir.utils.to_categorical(labels, num_classes)


def main() -> None:
    args = parse_args(__doc__, epochs=3, full=True)
    size = sizes(args, default={"n": 800, "size": 16}, full={"n": 64, "size": 256}, smoke={"n": 32, "size": 8})
    x_train, y_train = make_data(size.n, size.size, args.rng)
    x_test, y_test = make_data(max(32, size.n // 4), size.size, args.rng)

    model = build_model(size.size)
    describe("guide: Inception block", model, f"block output {model.layers[-3].output_shape}")
    model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    train(model, x_train, y_train, args, batch_size=32)
    evaluate_and_deploy(model, x_test, y_test, args, "guide_inception", baseline=f"chance {1 / num_classes:.4f}")


if __name__ == "__main__":
    main()
