"""Character-level text generation (Keras' examples/lstm_text_generation.py) on text shipped with Python.

Keras' example reads Nietzsche; this one reads the Zen of Python (`this.s`, decoded) by default,
or the source of any standard-library module with `--module textwrap`. After training, the
exported ONNX model writes the samples, one onnxruntime call per character.

    python examples/lstm_text_generation.py [--smoke] [--module NAME] [--epochs N]
"""

import codecs
import contextlib
import importlib
import inspect
import io

import numpy as np
from _common import deploy, header, line, onnx_feeds, parse_args, sizes, train

from kir.callbacks import LambdaCallback
from kir.layers import LSTM, Dense
from kir.models import Sequential
from kir.optimizers import RMSprop


def python_text(module: str | None) -> str:
    """The Zen of Python, or a stdlib module's source code."""
    if module:
        return inspect.getsource(importlib.import_module(module))
    with contextlib.redirect_stdout(io.StringIO()):  # `import this` prints the Zen; we want the text
        import this
    return codecs.decode(this.s, "rot13")


def build_model(maxlen: int, num_chars: int) -> Sequential:
    model = Sequential()
    model.add(LSTM(128, input_shape=(maxlen, num_chars)))
    model.add(Dense(num_chars, activation='softmax'))
    return model


def sample(preds: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    # helper function to sample an index from a probability array
    preds = np.asarray(preds).astype('float64')
    preds = np.log(preds + 1e-12) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = rng.multinomial(1, preds, 1)
    return int(np.argmax(probas))


def main() -> None:
    args = parse_args(__doc__, epochs=40, extra=lambda p: p.add_argument(
        "--module", default=None, help="train on this standard-library module's source instead of the Zen"))
    module = args.module
    size = sizes(args, default={"maxlen": 40, "step": 1, "chars": None, "generate": 300},
                 smoke={"maxlen": 10, "step": 3, "chars": 300, "generate": 40})

    text = python_text(module).lower()[:size.chars]
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    indices_char = dict(enumerate(chars))

    # cut the text in semi-redundant sequences of maxlen characters
    maxlen, step = size.maxlen, size.step
    sentences = [text[i: i + maxlen] for i in range(0, len(text) - maxlen, step)]
    next_chars = [text[i + maxlen] for i in range(0, len(text) - maxlen, step)]
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype='float32')
    y = np.zeros((len(sentences), len(chars)), dtype='float32')
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    header(f"lstm_text_generation: {module or 'the Zen of Python'} -> character LSTM")
    line("corpus", f"{len(text):,} characters, {len(chars)} distinct, {len(sentences):,} sequences of {maxlen}")
    model = build_model(maxlen, len(chars))
    line("model", f"{model.name}: {model.count_params():,} parameters")
    model.compile(loss='categorical_crossentropy', optimizer=RMSprop(learning_rate=0.01))
    every = max(1, args.epochs // 4)
    progress = LambdaCallback(on_epoch_end=lambda epoch, logs: (epoch + 1) % every == 0 and
                              line(f"epoch {epoch + 1}", f"loss {logs['loss']:.4f}"))
    train(model, x, y, args, batch_size=128, callbacks=[progress], verbose=0)

    deployment = deploy(model, x[:256], args, "lstm_text_generation")
    session = deployment.session
    seed = text[: maxlen] if module is None else text[len(text) // 2: len(text) // 2 + maxlen]
    for diversity in [0.2, 0.5, 1.0]:
        generated, sentence = "", seed
        for _ in range(size.generate):
            x_pred = np.zeros((1, maxlen, len(chars)), dtype='float32')
            for t_, char in enumerate(sentence):
                x_pred[0, t_, char_indices[char]] = 1.
            preds = session.run(None, onnx_feeds(session, model, x_pred))[0][0]
            next_char = indices_char[sample(preds, diversity, args.rng)]
            sentence = sentence[1:] + next_char
            generated += next_char
        print(f"\n----- sample, diversity {diversity}, seed {seed!r} (onnxruntime)\n{seed}{generated}")


if __name__ == "__main__":
    main()
