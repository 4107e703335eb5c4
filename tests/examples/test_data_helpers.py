"""The examples' data helpers: Keras' sequence semantics and the digits split."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import _data  # noqa: E402


def test_pad_sequences_pads_and_truncates_in_front_like_keras() -> None:
    got = _data.pad_sequences([[1, 2, 3], [4], []], maxlen=2)
    np.testing.assert_array_equal(got, [[2, 3], [0, 4], [0, 0]])
    assert got.dtype == np.int32


def test_pad_sequences_accepts_a_padded_matrix() -> None:
    np.testing.assert_array_equal(_data.pad_sequences(np.array([[5, 6, 7]]), maxlen=4), [[0, 5, 6, 7]])


def test_multi_hot_marks_words_below_num_words_once() -> None:
    got = _data.multi_hot([[1, 1, 3, 9], [0]], num_words=4)
    np.testing.assert_array_equal(got, [[0, 1, 0, 1], [1, 0, 0, 0]])


def test_load_npz_refuses_object_arrays_without_allow_pickle(tmp_path: Path) -> None:
    seqs = np.empty(2, dtype=object)
    seqs[:] = [[1, 2], [3]]
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=seqs, y_train=np.array([0, 1]), x_test=seqs, y_test=np.array([1, 0]))
    with pytest.raises(SystemExit, match="--allow-pickle"):
        _data.load_npz(path)
    split = _data.load_npz(path, allow_pickle=True)
    assert [list(s) for s in split.x_train] == [[1, 2], [3]]


def test_load_npz_names_missing_arrays(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros(3))
    with pytest.raises(SystemExit, match=r"has arrays \['images'\]; expected x_train"):
        _data.load_npz(path)


def test_digits_split_is_stratified_and_disjoint() -> None:
    pytest.importorskip("sklearn")
    split = _data.load_digits(seed=0)
    assert split.x_train.shape == (1347, 8, 8) and split.x_test.shape == (450, 8, 8)
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    for digit in range(10):
        n_test, n_all = np.sum(split.y_test == digit), np.sum(split.y_train == digit) + np.sum(split.y_test == digit)
        assert abs(n_test - 0.25 * n_all) <= 1
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)  # train + test is the whole set, each sample once

    def rows(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
        return sorted(np.round(img.reshape(-1) * 16).astype(np.int8).tobytes() + bytes([int(lab)])
                      for img, lab in zip(images, labels))

    assert rows(np.concatenate([split.x_train, split.x_test]), np.concatenate([split.y_train, split.y_test])) \
        == rows(x / 16.0, y)


def test_load_or_generate_generates_without_data_and_cuts_data_under_smoke(tmp_path: Path) -> None:
    def generate(n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(n), np.arange(n) % 2

    args = argparse.Namespace(data=None, allow_pickle=False, smoke=False)
    split = _data.load_or_generate(args, generate, 6, 3)
    assert [len(a) for a in split] == [6, 6, 3, 3]
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((10, 2)), y_train=np.zeros(10), x_test=np.zeros((5, 2)), y_test=np.zeros(5))
    args = argparse.Namespace(data=path, allow_pickle=False, smoke=True)
    assert [len(a) for a in _data.load_or_generate(args, generate, 4, 2)] == [4, 4, 2, 2]
    args.smoke = False
    assert [len(a) for a in _data.load_or_generate(args, generate, 4, 2)] == [10, 10, 5, 5]
    assert _data.source(args, "generated") == f"--data {path}"


def test_digits_one_hot_shapes_images_and_one_hot_labels() -> None:
    pytest.importorskip("sklearn")
    split = _data.digits_one_hot(seed=0, limit=40, shape=(64,))
    assert split.x_train.shape == (40, 64) and split.x_test.shape == (10, 64)
    assert split.y_train.shape == (40, 10) and np.all(split.y_train.sum(axis=1) == 1)
    np.testing.assert_array_equal(split.y_test.argmax(1), _data.load_digits(seed=0, limit=40).y_test)
