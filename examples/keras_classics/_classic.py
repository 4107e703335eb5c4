"""What the classic ports share, and none of the originals has: the command line, the stand-ins for
Keras' downloads, and the ONNX check at the end.

Each port is Keras' 2.3.1 example script with its `keras` imports swapped for `kir` and its
dataset download replaced by one of the stand-ins below, which return small arrays of the shapes and
dtypes Keras' loaders return (`mnist.load_data()` -> uint8 (n, 28, 28) images and uint8 labels, ...),
so the script's own preprocessing runs unchanged on them:

- `mnist`: scikit-learn's 8x8 digits, each pixel a 3x3 block, padded to 28x28 (uint8, 0-255);
- `cifar10`: generated 32x32 RGB textures, one color/stripe pattern per class (uint8, labels (n, 1));
- `imdb`, `reuters`: generated word-index lists (Keras' index_from=3 layout) whose words say the label;
- `get_file`: a bAbI-format tarball of generated two-supporting-facts stories (for babi_rnn);
- `fra_eng_file`: a tab-separated English -> French number-words file (for lstm_seq2seq);
- `plt` / `Image`: matplotlib / PIL when installed, else stand-ins that draw nothing.

    python examples/keras_classics/<name>.py --smoke   # tiny data, one epoch, then export + ORT check
    python examples/keras_classics/<name>.py           # the original's epochs on small arrays
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/: the shared plumbing of the examples, _common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _common  # noqa: E402

ARGS = SimpleNamespace(smoke=False, epochs=None, out=_common.DEFAULT_OUT, seed=0)
_EPOCHS_GIVEN = False


def setup(doc: str | None) -> argparse.Namespace:
    """Parse --smoke/--epochs/--out/--seed (the examples' options) and remove them from sys.argv, so
    an original's own argparse (variational_autoencoder's) sees only its options."""
    global ARGS, _EPOCHS_GIVEN
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--smoke", action="store_true")
    pre.add_argument("--epochs", type=int)
    pre.add_argument("--out", type=Path)
    pre.add_argument("--seed", type=int)
    known, rest = pre.parse_known_args(sys.argv[1:])
    argv = [a for a in sys.argv[1:] if a not in rest]
    _EPOCHS_GIVEN = known.epochs is not None
    ARGS = _common.parse_args(doc, epochs=1, argv=argv)
    np.random.seed(ARGS.seed)  # the originals draw with np.random / random
    import random
    random.seed(ARGS.seed)
    sys.argv = sys.argv[:1] + rest
    return ARGS


def epochs(original: int) -> int:
    """The original's epoch count, 1 under --smoke, or --epochs N."""
    if _EPOCHS_GIVEN or ARGS.smoke:
        return ARGS.epochs
    return original


def size(smoke: int, default: int) -> int:
    return smoke if ARGS.smoke else default


def check(model: Any, x: Any, name: str) -> _common.Deployment:
    """Export `model` to ONNX and check it in a plain onnxruntime session against
    `model.predict(x, backend='tensorflow')` (exit status 1 beyond 1e-4): the examples' `deploy`."""
    _common.header(f"{name}: ONNX export and onnxruntime check")
    return _common.deploy(model, x, ARGS, name)


# ----------------------------------------------------------------------------------------------
# stand-ins for keras.datasets: same call, same shapes and dtypes, small generated/bundled arrays

def _split(n_train: int, n_test: int, smoke: tuple[int, int] = (128, 64)) -> tuple[int, int]:
    return smoke if ARGS.smoke else (n_train, n_test)


class mnist:  # noqa: N801 - named as the module it stands for
    @staticmethod
    def load_data(path: str = "mnist.npz") -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """scikit-learn's digits as MNIST: uint8 (n, 28, 28) images, 0-255, uint8 labels."""
        from sklearn.datasets import load_digits
        x, y = load_digits(return_X_y=True)
        rng = np.random.default_rng(ARGS.seed)
        order = rng.permutation(len(y))
        x, y = x[order], y[order]
        img = np.kron(x.reshape(-1, 8, 8) * (255.0 / 16.0), np.ones((3, 3)))  # 24x24
        img = np.pad(img, ((0, 0), (2, 2), (2, 2))).round().astype(np.uint8)
        n_train, n_test = _split(1400, 397, smoke=(256, 300))
        y = y.astype(np.uint8)
        return (img[:n_train], y[:n_train]), (img[1400:1400 + n_test], y[1400:1400 + n_test])


class cifar10:  # noqa: N801
    @staticmethod
    def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """uint8 (n, 32, 32, 3) images, labels (n, 1): per class a base color and a stripe frequency."""
        rng = np.random.default_rng(ARGS.seed)
        palette = rng.uniform(40, 215, (10, 3))
        yy, xx = np.mgrid[0:32, 0:32]

        def make(n: int) -> tuple[np.ndarray, np.ndarray]:
            labels = rng.integers(0, 10, n)
            phase = rng.uniform(0, 2 * np.pi, n)[:, None, None]
            freq = (1 + labels % 5)[:, None, None] * (np.pi / 16)
            direction = np.where(labels[:, None, None] < 5, xx[None], yy[None])
            stripes = 30 * np.sin(freq * direction + phase)
            img = palette[labels][:, None, None, :] + stripes[..., None] + rng.normal(0, 20, (n, 32, 32, 3))
            return np.clip(img, 0, 255).astype(np.uint8), labels.reshape(-1, 1).astype(np.uint8)

        n_train, n_test = _split(2000, 500)
        return make(n_train), make(n_test)


def _word_lists(n: int, num_words: int, classes: int, rng: np.random.Generator, lengths: tuple[int, int],
                ) -> tuple[np.ndarray, np.ndarray]:
    """Lists of word indices as Keras' text datasets give them (1 = start, 2 = out of vocabulary,
    words from 3): each class has its own 12 marker words sprinkled among common ones."""
    labels = rng.integers(0, classes, n)
    usable = max(num_words, 20) - 3
    markers = 3 + rng.permutation(usable)[: classes * 12].reshape(classes, -1) % usable
    out = np.empty(n, dtype=object)
    for i, label in enumerate(labels):
        length = int(rng.integers(*lengths))
        words = 3 + (rng.zipf(1.3, length) % usable)
        hits = rng.random(length) < 0.15
        words[hits] = rng.choice(markers[label], int(hits.sum()))
        out[i] = [1] + [int(w) for w in words]
    return out, labels.astype(np.int64)


class imdb:  # noqa: N801
    @staticmethod
    def load_data(path: str = "imdb.npz", num_words: int | None = None, **_: Any) -> tuple[tuple, tuple]:
        rng = np.random.default_rng(ARGS.seed)
        n_train, n_test = _split(1000, 500)
        return (_word_lists(n_train, num_words or 20000, 2, rng, (30, 200)),
                _word_lists(n_test, num_words or 20000, 2, rng, (30, 200)))


class reuters:  # noqa: N801
    @staticmethod
    def load_data(path: str = "reuters.npz", num_words: int | None = None, test_split: float = 0.2,
                  **_: Any) -> tuple[tuple, tuple]:
        rng = np.random.default_rng(ARGS.seed)
        n = 160 if ARGS.smoke else 2000
        x, y = _word_lists(n, num_words or 30000, 46, rng, (20, 150))
        y[:46] = np.arange(46)  # every topic occurs, as in Reuters (num_classes = max + 1 = 46)
        cut = int(len(x) * (1 - test_split))
        return (x[:cut], y[:cut]), (x[cut:], y[cut:])


class Tokenizer:
    """keras.preprocessing.text.Tokenizer's `sequences_to_matrix(mode='binary')` (kir has no text
    preprocessing): 1 where a word index below num_words occurs."""

    def __init__(self, num_words: int | None = None, **_: Any) -> None:
        self.num_words = num_words

    def sequences_to_matrix(self, sequences: Any, mode: str = "binary") -> np.ndarray:
        if mode != "binary":
            raise ValueError("this stand-in implements mode='binary' only")
        out = np.zeros((len(sequences), self.num_words), dtype="float32")
        for i, seq in enumerate(sequences):
            seq = np.asarray(seq, dtype="int64")
            out[i, seq[(seq >= 0) & (seq < self.num_words)]] = 1.0
        return out


# ----------------------------------------------------------------------------------------------
# bAbI (babi_rnn) and fra-eng (lstm_seq2seq): files in the original's format, generated

_PEOPLE = ["Mary", "John", "Sandra", "Daniel"]
_PLACES = ["bathroom", "hallway", "kitchen", "garden", "office", "bedroom"]
_THINGS = ["football", "apple", "milk"]


def _babi_story(rng: np.random.Generator, questions: int) -> list[str]:
    """One qa2 (two supporting facts) story: people move, one picks a thing up; where is the thing?"""
    lines: list[str] = []
    where = {p: None for p in _PEOPLE}
    holder: dict[str, tuple[str, int]] = {}
    move_line: dict[str, int] = {}
    asked = 0
    while asked < questions:
        person = _PEOPLE[rng.integers(len(_PEOPLE))]
        if where[person] and not holder and rng.random() < 0.4:
            thing = _THINGS[rng.integers(len(_THINGS))]
            lines.append(f"{person} got the {thing} there.")
            holder[thing] = (person, len(lines))
            continue
        place = _PLACES[rng.integers(len(_PLACES))]
        lines.append(f"{person} {['moved to', 'went to', 'journeyed to', 'travelled to'][rng.integers(4)]} "
                     f"the {place}.")
        where[person] = place
        move_line[person] = len(lines)
        if holder and rng.random() < 0.5:
            thing, (who, got) = next(iter(holder.items()))
            lines.append(f"Where is the {thing}? \t{where[who]}\t{got} {move_line[who]}")
            asked += 1
    return [f"{i + 1} {text}" for i, text in enumerate(lines)]


def get_file(fname: str, origin: str = "", **_: Any) -> str:
    """keras.utils.data_utils.get_file for babi_rnn: writes a babi_tasks_1-20_v1-2 tarball holding a
    generated tasks_1-20_v1-2/en/qa2_two-supporting-facts_{train,test}.txt, and returns its path."""
    if "babi" not in fname:
        raise SystemExit(f"error: nothing can be downloaded here, and there is no stand-in for {fname}")
    rng = np.random.default_rng(ARGS.seed)
    path = Path(tempfile.mkdtemp(prefix="kir_babi_")) / fname
    with tarfile.open(path, "w:gz") as tar:
        for split, stories in (("train", size(60, 600)), ("test", size(20, 200))):
            text = "\n".join(line for _ in range(stories) for line in _babi_story(rng, 2)) + "\n"
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"tasks_1-20_v1-2/en/qa2_two-supporting-facts_{split}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


_EN = "zero one two three four five six seven eight nine".split()
_FR = "zéro un deux trois quatre cinq six sept huit neuf".split()


def fra_eng_file() -> str:
    """A fra-eng/fra.txt stand-in ('English<TAB>French' lines): number words, 'two five' -> 'deux cinq'."""
    rng = np.random.default_rng(ARGS.seed)
    lines = []
    for _ in range(size(120, 2000)):  # decode_sequence reads the first 100
        digits = rng.integers(0, 10, rng.integers(1, 4))
        lines.append(" ".join(_EN[d] for d in digits) + "\t" + " ".join(_FR[d] for d in digits))
    path = Path(tempfile.mkdtemp(prefix="kir_fra_eng_")) / "fra.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def plot_model(model: Any, to_file: str = "model.png", **kwargs: Any) -> Any:
    """kir.utils.plot_model; without Graphviz's `dot` program (Keras' plot_model needs it too, and
    pydot), writes the picture's DOT text next to it (`to_file` + '.dot') instead."""
    import kir
    try:
        return kir.utils.plot_model(model, to_file=to_file, **kwargs)
    except kir.errors.MissingDependencyError:
        return kir.utils.plot_model(model, to_file=str(to_file) + ".dot", **kwargs)


# ----------------------------------------------------------------------------------------------
# plotting: the originals draw with matplotlib and save with PIL; neither is part of kir

class _NoDraw:
    """Stands in for matplotlib.pyplot / PIL.Image where they are not installed: every call is a no-op."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self


try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: F401
except ImportError:
    plt = _NoDraw()
try:
    from PIL import Image  # noqa: F401
except ImportError:
    Image = _NoDraw()
