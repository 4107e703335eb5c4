"""evaluate() and fit(validation_data=) read a tf.data dataset of known length inside traced calls, as
fit does: results equal to the host-fed path, and bad batches are FeedErrors naming the batch."""

import numpy as np
import pytest
import tensorflow as tf

import kir
from kir import backends, layers
from kir.errors import FeedError
from kir.training import loop
from kir.training.engine import Engine, training_graph


def _model(metrics=("accuracy",)):
    kir.utils.set_random_seed(0)
    ids = layers.Input((3,), dtype="int32", name="ids")
    feats = layers.Input((4,), name="feats")
    h = layers.Concatenate()([layers.Flatten()(layers.Embedding(20, 2)(ids)), feats])
    model = kir.models.Model([ids, feats], layers.Dense(5, activation="softmax")(h), name="m")
    model.compile(kir.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def _data(n=100):
    rng = np.random.default_rng(0)
    return ({"ids": rng.integers(0, 20, (n, 3)).astype("int32"), "feats": rng.random((n, 4)).astype("float32")},
            rng.integers(0, 5, n).astype("float32"), rng.random(n).astype("float32"))


def _dataset(x, y, sw=None, batch=8):
    parts = (x, y) if sw is None else (x, y, sw)
    return tf.data.Dataset.from_tensor_slices(parts).batch(batch)


@pytest.fixture(scope="module")
def shared():
    """One model for the error cases (its traces are reused: tracing dominates these tests' time)."""
    return _model()


def _read_in_graph(model) -> bool:
    """Whether an engine of `model` traced in-graph test steps."""
    prog = backends.get("tensorflow").program(training_graph(model)[0])
    return any(isinstance(key, tuple) and key[0] == "test-iterator"
               for e in prog.cache.values() if isinstance(e, Engine) for key in e._chunk_fns)


def test_evaluate_in_graph_equals_the_host_path_and_arrays():
    model = _model()
    x, y, sw = _data()
    ds = _dataset(x, y, sw)
    ours = model.evaluate(ds, verbose=0, return_dict=True)
    assert _read_in_graph(model)
    loop.IN_GRAPH_EVALUATE = False
    try:
        host = model.evaluate(ds, verbose=0, return_dict=True)
    finally:
        loop.IN_GRAPH_EVALUATE = True
    arrays = model.evaluate(x, y, sample_weight=sw, batch_size=8, verbose=0, return_dict=True)
    assert ours.keys() == host.keys() == {"loss", "accuracy"}
    for key in ours:
        assert ours[key] == pytest.approx(host[key], rel=1e-6) == pytest.approx(arrays[key], rel=1e-6)


def test_validation_in_graph_equals_the_host_path():
    x, y, _ = _data(32)
    logs = []
    for in_graph in (True, False):
        loop.IN_GRAPH_EVALUATE = in_graph
        try:
            model = _model()
            history = model.fit(_dataset(x, y), epochs=2, shuffle=False, verbose=0, validation_data=_dataset(x, y))
        finally:
            loop.IN_GRAPH_EVALUATE = True
        logs.append(history.history)
    assert logs[0].keys() == logs[1].keys() >= {"val_loss", "val_accuracy"}
    for key in logs[0]:
        np.testing.assert_allclose(logs[0][key], logs[1][key], rtol=1e-6)


BAD = [
    ("ids", lambda x, y: x["ids"].__setitem__((21, 1), 50),
     r"input 'ids' of model 'm' \(batch 2 of the {what}\(\) data\) holds token id 50 at index \(5, 1\), "
     r"outside \[0, 20\)"),
    ("nan", lambda x, y: x["feats"].__setitem__((26, 2), np.nan),
     r"x \(input 'feats' of model 'm' \(batch 3 of the {what}\(\) data\)\) holds nan at index \(2, 2\)"),
    ("label", lambda x, y: y.__setitem__(17, 7.0),
     r"y \(target for output '\w+' of model 'm' \(batch 2 of the {what}\(\) data\)\) holds label 7 at "
     r"index \(1,\); the sparse_categorical_crossentropy loss needs integer class ids in \[0, 5\)"),
]


@pytest.mark.parametrize("kind, spoil, message", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("how", ["evaluate", "validation"])
def test_a_bad_batch_is_a_feed_error_naming_it(kind, spoil, message, how, shared):
    model = shared
    x, y, _ = _data(40)
    spoil(x, y)
    what = "evaluate" if how == "evaluate" else "fit"
    with pytest.raises(FeedError, match=message.format(what=what)):
        if how == "evaluate":
            model.evaluate(_dataset(x, y), verbose=0)
        else:
            clean_x, clean_y, _ = _data(40)
            model.fit(_dataset(clean_x, clean_y), epochs=1, verbose=0, validation_data=_dataset(x, y))
    assert _read_in_graph(model)


def test_a_bad_first_validation_batch_is_checked_on_the_host():
    """The validation sample (batch 0) is read on the host before fit's loop: its ids are checked there."""
    x, y, _ = _data(40)
    bad = {k: v.copy() for k, v in x.items()}
    bad["ids"][3, 0] = -1
    with pytest.raises(FeedError, match=r"input 'ids' of model 'm' \(batch 0 of the fit\(\) data\) holds token id -1"):
        _model().fit(_dataset(x, y), epochs=1, verbose=0, validation_data=_dataset(bad, y))


def _generator_dataset(widths):
    """Batches of `feats` whose width the element spec leaves open, with ids and labels."""
    def gen():
        for w in widths:
            yield {"ids": np.zeros((4, 3), "int32"), "feats": np.zeros((4, w), "float32")}, np.zeros(4, "float32")
    spec = ({"ids": tf.TensorSpec((None, 3), tf.int32), "feats": tf.TensorSpec((None, None), tf.float32)},
            tf.TensorSpec((None,), tf.float32))
    return tf.data.Dataset.from_generator(gen, output_signature=spec).apply(
        tf.data.experimental.assert_cardinality(len(widths)))


@pytest.mark.parametrize("in_graph", [True, False], ids=["in_graph", "host"])
def test_shapes_the_element_spec_leaves_open_are_checked(in_graph, shared):
    model = shared
    loop.IN_GRAPH_EVALUATE = in_graph
    try:
        with pytest.raises(FeedError, match=r"^input 'feats' of model 'm' \(batch 5 of the evaluate\(\) data\): "
                                            r"expected shape \(None, 4\), got \(4, 6\)$"):
            model.evaluate(_generator_dataset([4] * 5 + [6] + [4] * 4), verbose=0)
        x, y, _ = _data(40)
        ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(x).batch(8),
                                  tf.data.Dataset.from_tensor_slices(y[:36]).batch(8)))
        with pytest.raises(FeedError, match=r"^model 'm' \(batch 4 of the evaluate\(\) data\): inputs and targets "
                                            r"have different batch sizes \[4, 8\]"):
            model.evaluate(ds, verbose=0)
    finally:
        loop.IN_GRAPH_EVALUATE = True
