"""The guide's residual connection, z = x + Conv2D(3, (3, 3))(x), trained as an image denoiser.

A residual block only has to learn the *correction* to its input, which suits denoising: the
input is a smooth image plus noise, the target the clean image, so the convolution learns to
subtract the noise. The report compares the test error with the noise the input started with.

    python examples/guide_residual.py [--smoke] [--full: 256x256 images]
"""

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed

import kir
from kir.layers import Conv2D, Input
from kir.models import Model
from kir.optimizers import Adam


def build_model(size: int = 256) -> Model:
    # input tensor for a 3-channel 256x256 image
    x = Input(shape=(size, size, 3))
    # 3x3 conv with 3 output channels (same as input channels)
    y = Conv2D(3, (3, 3), padding='same')(x)
    # this returns x + y.
    z = kir.layers.add([x, y])
    return Model(inputs=x, outputs=z)


def make_data(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clean images: sums of a few smooth colour waves; inputs: the same plus Gaussian noise."""
    rows, cols = np.mgrid[0:size, 0:size] / size
    freq = rng.uniform(0.5, 3.0, size=(n, 3, 2, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 3, 1, 1))
    clean = 0.5 + 0.4 * np.sin(2 * np.pi * (freq[:, :, 0] * rows + freq[:, :, 1] * cols) + phase)
    clean = clean.transpose(0, 2, 3, 1).astype('float32')
    noisy = clean + rng.normal(0, 0.2, size=clean.shape).astype('float32')
    return noisy, clean


def main() -> None:
    args = parse_args(__doc__, epochs=20, full=True)
    size = sizes(args, default={"n": 1000, "size": 32}, full={"n": 200, "size": 256}, smoke={"n": 16, "size": 8})
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(size.n, size.size, rng)
    x_test, y_test = make_data(max(32, size.n // 4), size.size, rng)

    header("guide: residual connection (denoising)")
    model = build_model(size.size)
    line("model", f"{model.name}: {model.count_params():,} parameters, output {model.output_shape}")
    model.compile(optimizer=Adam(learning_rate=0.01), loss='mse')
    with timed() as t:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    report_training(history, t.seconds, len(x_train))
    report_metrics(model, x_test, y_test)
    line("baseline", f"noise in the input: mse {np.mean((x_test - y_test) ** 2):.4f}")
    deploy(model, x_test, args, "guide_residual")


if __name__ == "__main__":
    main()
