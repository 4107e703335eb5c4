"""The guide's residual connection, z = x + Conv2D(3, (3, 3))(x), trained as an image denoiser.

The model is the guide's code, written once in the zoo: kir.zoo.guide.residual (kir/zoo/guide.py).
A residual block only has to learn the *correction* to its input, which suits denoising: the
input is a smooth image plus noise, the target the clean image, so the convolution learns to
subtract the noise. The report compares the test error with the noise the input started with.

    python examples/guide_residual.py [--smoke] [--full: 256x256 images]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train

from kir.optimizers import Adam
from kir.zoo.guide import residual


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
    x_train, y_train = make_data(size.n, size.size, args.rng)
    x_test, y_test = make_data(max(32, size.n // 4), size.size, args.rng)

    # the guide's residual connection: kir.zoo.guide.residual
    model = residual(size.size)
    describe("guide: residual connection (denoising)", model, f"output {model.output_shape}")
    model.compile(optimizer=Adam(learning_rate=0.01), loss='mse')
    train(model, x_train, y_train, args, batch_size=32)
    evaluate_and_deploy(model, x_test, y_test, args, "guide_residual",
                        baseline=f"noise in the input: mse {np.mean((x_test - y_test) ** 2):.4f}")


if __name__ == "__main__":
    main()
