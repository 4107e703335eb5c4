"""Transformer encoder classifier (Keras' text_classification_with_transformer example, GELU
feed-forward): token + position embedding, two encoder blocks (MultiHeadAttention + residual +
LayerNormalization, feed-forward + residual + LayerNormalization), average pooling, softmax.

Generated sequences: a sequence is positive when the word 1 (the "marker") comes before word 2
in it, negative when after, amid random filler words; only attention over positions (not word
counts) tells the classes apart. The model is `kir.zoo.transformer.transformer_classifier`, which
builds the same network in Keras 3. The ONNX file uses onnxruntime's fused Attention and BiasGelu
kernels; `--portable` writes standard ONNX ops only.

    python examples/transformer_classifier.py [--smoke] [--epochs N] [--portable]
"""

from pathlib import Path

import numpy as np
from _common import check_in_onnxruntime, describe, line, parse_args, report_metrics, sizes, train

from kir.zoo.transformer import transformer_classifier

vocab = 200
maxlen = 32
batch_size = 32


def generate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Filler words 3..vocab-1 with the two markers at random distinct positions; label: 1 before 2."""
    x = rng.integers(3, vocab, size=(n, maxlen)).astype(np.int32)
    labels = rng.integers(0, 2, size=n)
    for row, label in zip(x, labels):
        first, second = sorted(rng.choice(maxlen, size=2, replace=False))
        row[first], row[second] = (1, 2) if label else (2, 1)
    return x, labels.astype(np.int32)


def main() -> None:
    args = parse_args(__doc__, epochs=8, extra=lambda p: p.add_argument(
        "--portable", action="store_true", help="standard ONNX ops only (no onnxruntime com.microsoft kernels)"))
    size = sizes(args, default={"train": 4000, "test": 1000, "d_model": 64, "blocks": 2},
                 smoke={"train": 64, "test": 32, "d_model": 16, "blocks": 1})
    x_train, y_train = generate(size.train, args.rng)
    x_test, y_test = generate(size.test, args.rng)
    model = transformer_classifier(maxlen=maxlen, vocab=vocab, d_model=size.d_model, heads=4,
                                   ff_dim=2 * size.d_model, blocks=size.blocks, classes=2)
    describe(f"transformer_classifier: generated marker order -> {size.blocks} encoder block(s), "
             f"d_model {size.d_model}", model, f"{len(model.layers)} layers")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    train(model, x_train, y_train, args, batch_size=batch_size, validation_data=(x_test, y_test))
    report_metrics(model, x_test, y_test)
    line("baseline", "chance 50%: the classes only differ in where the two markers sit")
    result = model.export(str(Path(args.out) / "transformer_classifier.onnx"), portable=args.portable)
    ops = sorted(result.node_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    line("ONNX file", f"{result.path} ({result.file_bytes / 1024:,.1f} KiB, {sum(result.node_counts.values())} "
                      f"nodes: {', '.join(f'{op} {n}' for op, n in ops)}; "
                      f"{'portable' if args.portable else 'fused onnxruntime kernels'})")
    check_in_onnxruntime(model, x_test[:256], Path(result.path), args)


if __name__ == "__main__":
    main()
