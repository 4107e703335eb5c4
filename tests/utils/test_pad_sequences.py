"""kir.utils.pad_sequences against keras.utils.pad_sequences."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kir.errors import ConfigError  # noqa: E402
from kir.utils import pad_sequences  # noqa: E402

SEQS = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10], [11]]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 2, 4, 7, np.int64(3)])
def test_matches_keras(padding, truncating, maxlen):
    ours = pad_sequences(SEQS, maxlen=maxlen, padding=padding, truncating=truncating)
    theirs = keras.utils.pad_sequences(SEQS, maxlen=maxlen, padding=padding, truncating=truncating)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kwargs", [{"dtype": "float32", "value": -1.5}, {"dtype": "int64", "value": 7},
                                    {"dtype": object, "value": "pad"}])
def test_dtype_and_value_match_keras(kwargs):
    seqs = [["a", "b"], ["c"]] if kwargs["dtype"] is object else SEQS
    ours = pad_sequences(seqs, maxlen=4, **kwargs)
    theirs = keras.utils.pad_sequences(seqs, maxlen=4, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_sequences_of_vectors_and_arrays_match_keras():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(n, 3)).astype("float32") for n in (2, 5, 1)]
    ours = pad_sequences(seqs, maxlen=4, dtype="float32", padding="post")
    np.testing.assert_array_equal(ours, keras.utils.pad_sequences(seqs, maxlen=4, dtype="float32", padding="post"))
    assert ours.shape == (3, 4, 3)
    arrays = [np.arange(n) for n in (3, 1, 6)]
    np.testing.assert_array_equal(pad_sequences(arrays), keras.utils.pad_sequences(arrays))


def test_errors_are_config_errors():
    with pytest.raises(ConfigError, match="padding must be 'pre' or 'post'"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ConfigError, match="truncating must be"):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(ConfigError, match="sequence 1 is not a sequence"):
        pad_sequences([[1], 5])
    with pytest.raises(ConfigError, match="dtype int32 cannot hold the padding value 'x'"):
        pad_sequences(SEQS, value="x")
    with pytest.raises(ConfigError, match="items of sequence 1 have shape"):
        pad_sequences([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ConfigError, match="maxlen must be a positive integer"):
        pad_sequences(SEQS, maxlen=0)
