"""kir in one run: train the guide's MNIST CNN, export it to ONNX, serve it with onnxruntime.

    pip install -e ".[examples]" && python examples/quickstart.py

Trains the CNN of examples/mnist_cnn.py on scikit-learn's 8x8 handwritten digits with TensorFlow
(under a minute on two CPU cores), exports it as `kir-export` does (dynamic batch, -O2), runs the
file in a plain onnxruntime session, and prints a one-screen report: test accuracy (>= 95%), the
ONNX file, parity with TensorFlow and latency.
"""

import sys

from _common import check_in_onnxruntime, header, line, parse_args, timed
from _data import digits_one_hot
from mnist_cnn import batch_size, build_model

from kir.backends.onnx import export
from kir.callbacks import LambdaCallback
from kir.cli.export import report_lines

TARGET = 0.95


def main() -> None:
    args = parse_args(__doc__, epochs=15)
    x_train, y_train, x_test, y_test = digits_one_hot(args.seed, limit=256 if args.smoke else None)

    header("kir quickstart: the guide's MNIST CNN on handwritten digits")
    line("data set", f"scikit-learn digits: {len(x_train)} training, {len(x_test)} test images of 8x8, 10 classes")
    model = build_model()
    layers = " -> ".join(type(layer).__name__ for layer in model.layers)
    line("model", f"{layers}; {model.count_params():,} parameters")

    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    every = max(1, args.epochs // 3)
    progress = LambdaCallback(on_epoch_end=lambda epoch, logs: (epoch + 1) % every == 0 and line(
        f"  epoch {epoch + 1}/{args.epochs}", f"loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}"))
    with timed() as t:
        model.fit(x_train, y_train, batch_size=batch_size, epochs=args.epochs, callbacks=[progress], verbose=0)
    import tensorflow as tf  # already loaded by fit; imported here for its version

    line("training", f"{args.epochs} epochs in {t.seconds:.1f} s with TensorFlow {tf.__version__} (adam, batch "
                     f"{batch_size})")
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    met = acc >= TARGET
    line("test accuracy", f"{acc:.2%} (loss {loss:.4f}; target >= {TARGET:.0%}: {'met' if met else 'MISSED'})")

    # what `kir-export` does for a model, with its report
    path = args.out / "quickstart.onnx"
    result = export(model, path, optimize="O2")
    print("ONNX export     : " + "\n                  ".join(report_lines(result, "O2", "float32")))
    check_in_onnxruntime(model, x_test, path, args)
    line("serve it", f"onnxruntime.InferenceSession('{path}').run(None, {{'{result.inputs[0][0]}': images}})")
    if not met and not args.smoke:
        print(f"error: test accuracy {acc:.2%} is below {TARGET:.0%}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
