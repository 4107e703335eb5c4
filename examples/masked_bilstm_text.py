"""Masked Bidirectional LSTM text classifier: padding that the model never sees.

Generated snippets of 3 to 40 words: words 1-30 praise, 31-60 criticise, the rest are neutral;
the label says whether praise outnumbers criticism. Batches are padded with id 0 to a common
length, half of them at the front and half at the back. `Embedding(mask_zero=True)` turns id 0
into a mask that the Bidirectional LSTM honours (padded steps carry the state, exactly as Keras
3), so a snippet gets the same prediction however it is padded. The script reports that, and
ONNX parity on left- and right-padded batches: the exported file computes the mask in-graph and
feeds it to the ONNX LSTM ops as `sequence_lens` after moving each row's real words to the front.

    python examples/masked_bilstm_text.py [--smoke] [--epochs N]
"""

import numpy as np
from _common import check_in_onnxruntime, describe, export_onnx, line, parse_args, sizes, train

from kir.layers import LSTM, Bidirectional, Dense, Embedding, Input
from kir.models import Model

vocabulary = 500
maxlen = 48
batch_size = 32


def build_model() -> Model:
    words = Input((maxlen,), dtype="int32", name="words")
    embedded = Embedding(vocabulary, 32, mask_zero=True)(words)
    encoded = Bidirectional(LSTM(24))(embedded)
    return Model(words, Dense(1, activation="sigmoid")(encoded), name="masked_bilstm_text")


def generate(n: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Snippets (word id arrays, no padding) and labels: 1 when praise words outnumber criticism."""
    snippets, labels = [], []
    while len(snippets) < n:
        length = int(rng.integers(3, 41))
        kind = rng.random(length)
        words = np.where(kind < 0.15, rng.integers(1, 31, length),
                         np.where(kind < 0.3, rng.integers(31, 61, length), rng.integers(61, vocabulary, length)))
        praise, criticism = int(np.sum(words < 31)), int(np.sum((words >= 31) & (words < 61)))
        if praise != criticism:
            snippets.append(words)
            labels.append(int(praise > criticism))
    return snippets, np.asarray(labels, dtype="float32").reshape(-1, 1)


def pad(snippets: list[np.ndarray], side: str) -> np.ndarray:
    """Zeros in front ('pre', Keras' default) or behind ('post')."""
    out = np.zeros((len(snippets), maxlen), dtype="int32")
    for i, words in enumerate(snippets):
        if side == "pre":
            out[i, maxlen - len(words):] = words
        else:
            out[i, :len(words)] = words
    return out


def mixed(snippets: list[np.ndarray]) -> np.ndarray:
    """Even rows padded in front, odd rows behind."""
    front, back = pad(snippets, "pre"), pad(snippets, "post")
    return np.where((np.arange(len(snippets)) % 2 == 0)[:, None], front, back)


def main() -> None:
    args = parse_args(__doc__, epochs=4)
    size = sizes(args, default={"train": 3000, "test": 600}, smoke={"train": 64, "test": 64})
    train_text, y_train = generate(size.train, args.rng)
    test_text, y_test = generate(size.test, args.rng)

    model = build_model()
    describe("masked_bilstm_text: generated snippets, padded front and back -> "
             "Embedding(mask_zero=True) + Bidirectional(LSTM)", model, f"{len(model.layers)} layers")
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    train(model, mixed(train_text), y_train, args, batch_size=batch_size)

    left, right = pad(test_text, "pre"), pad(test_text, "post")
    metrics = model.evaluate(mixed(test_text), y_test, verbose=0)
    line("test metrics", f"accuracy {metrics[1]:.4f}, loss {metrics[0]:.4f}")
    gap = float(np.max(np.abs(model.predict(left) - model.predict(right))))
    line("padding", f"left- vs right-padded predictions differ by at most {gap:.2e} (numpy reference)")
    path = export_onnx(model, args, "masked_bilstm_text")
    for side, batch in (("left (front)", left), ("right (back)", right)):
        line("ONNX check", f"{side}-padded test snippets")
        check_in_onnxruntime(model, batch, path, args)


if __name__ == "__main__":
    main()
