"""The guide's Inception block (three towers, concatenated), trained with a small classifier on top.

The block is the guide's code, including `concatenate(..., axis=1)`, which on channels-last maps
stacks the towers along the image height. A block alone has nothing to train against, so a
GlobalAveragePooling2D + Dense softmax head classifies generated textures: horizontal, vertical
or diagonal stripes, or a checkerboard, in a random colour with noise.

    python examples/guide_inception.py [--smoke] [--full: 256x256 images]
"""

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed

import kir
from kir.layers import Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D
from kir.models import Model

num_classes = 4


def build_model(size: int = 256) -> Model:
    input_img = Input(shape=(size, size, 3))

    tower_1 = Conv2D(64, (1, 1), padding='same', activation='relu')(input_img)
    tower_1 = Conv2D(64, (3, 3), padding='same', activation='relu')(tower_1)

    tower_2 = Conv2D(64, (1, 1), padding='same', activation='relu')(input_img)
    tower_2 = Conv2D(64, (5, 5), padding='same', activation='relu')(tower_2)

    tower_3 = MaxPooling2D((3, 3), strides=(1, 1), padding='same')(input_img)
    tower_3 = Conv2D(64, (1, 1), padding='same', activation='relu')(tower_3)

    output = kir.layers.concatenate([tower_1, tower_2, tower_3], axis=1)

    # the head that makes the block trainable (not in the guide)
    features = GlobalAveragePooling2D()(output)
    predictions = Dense(num_classes, activation='softmax')(features)
    return Model(inputs=input_img, outputs=predictions)


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
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(size.n, size.size, rng)
    x_test, y_test = make_data(max(32, size.n // 4), size.size, rng)

    header("guide: Inception block")
    model = build_model(size.size)
    line("model", f"{model.name}: block output {model.layers[-3].output_shape}, "
                  f"{model.count_params():,} parameters")
    model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    with timed() as t:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    report_training(history, t.seconds, len(x_train))
    report_metrics(model, x_test, y_test)
    line("baseline", f"chance {1 / num_classes:.4f}")
    deploy(model, x_test, args, "guide_inception")


if __name__ == "__main__":
    main()
