"""Precision, Recall, AUC and the confusion counts against keras.metrics: eagerly over several batches
(numpy and TF tensors), and accumulated over an epoch by fit/evaluate like Keras."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.metrics as M  # noqa: E402
from kir.errors import ConfigError, FeedError  # noqa: E402

RNG = np.random.default_rng(5)
Y = RNG.integers(0, 2, (40, 1)).astype("float32")
P = RNG.uniform(size=(40, 1)).astype("float32")
P[:6, 0] = [0.0, 1.0, 0.5, 0.25, 0.75, 0.3]  # on thresholds and bucket edges
YM = RNG.integers(0, 2, (40, 4)).astype("float32")
PM = RNG.uniform(size=(40, 4)).astype("float32")
SW = RNG.uniform(size=(40,)).astype("float32")

CASES = [
    ("Precision", {}, Y, P), ("Recall", {}, Y, P),
    ("Precision", {"thresholds": [0.2, 0.5, 0.8]}, Y, P), ("Recall", {"thresholds": 0.3}, Y, P),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, Y, P),  # evenly spaced: Keras' bucket rule
    ("Precision", {"top_k": 2}, YM, PM), ("Recall", {"class_id": 2}, YM, PM),
    ("Precision", {"top_k": 1, "class_id": 3}, YM, PM), ("Recall", {"thresholds": 0.6}, YM, PM),
    ("AUC", {}, Y, P), ("AUC", {"curve": "PR"}, Y, P),
    ("AUC", {"num_thresholds": 7, "summation_method": "minoring"}, Y, P),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, Y, P), ("AUC", {"thresholds": [0.1, 0.45, 0.9]}, Y, P),
    ("AUC", {"from_logits": True}, Y, P * 6 - 3), ("AUC", {}, YM, PM),
    ("TruePositives", {}, Y, P), ("FalsePositives", {"thresholds": [0.3, 0.6]}, Y, P),
    ("TrueNegatives", {}, Y, P), ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, Y, P),
]
IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items())}-{y.shape[1]}" for c, kw, y, _ in CASES]


def _assert_matches(ours, theirs):
    expected = np.asarray(theirs, dtype=np.float64)
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), expected, rtol=1e-6,
                               atol=1e-6 * max(1.0, float(np.max(np.abs(expected)))))


@pytest.mark.parametrize("cls,kwargs,y,p", CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_running_value_matches_keras_over_batches(cls, kwargs, y, p, weighted):
    theirs, ours, ours_tf = (getattr(lib, cls)(**kwargs) for lib in (keras.metrics, M, M))
    for sl in (slice(0, 13), slice(13, 40)):
        sw = SW[sl] if weighted else None
        theirs.update_state(y[sl], p[sl], sample_weight=sw)
        ours.update_state(y[sl], p[sl], sample_weight=sw)
        ours_tf.update_state(tf.constant(y[sl]), tf.constant(p[sl]), None if sw is None else tf.constant(sw))
    _assert_matches(ours.result(), theirs.result())
    _assert_matches(ours_tf.result(), theirs.result())
    assert theirs.name.startswith(ours.name)  # Keras numbers default names per process: precision_3
    ours.reset_state()
    assert np.all(ours.state == 0)


def test_names_arguments_and_errors_follow_keras():
    for name, cls in [("precision", M.Precision), ("Recall", M.Recall), ("auc", M.AUC), ("AUC", M.AUC),
                      ("true_positives", M.TruePositives), ("FalseNegatives", M.FalseNegatives)]:
        m = M.get(name)
        assert isinstance(m, cls) and m.name == name  # Keras names a metric given by string after the string
    assert M.AUC().name == "auc" and M.TrueNegatives().name == "true_negatives"
    assert M.get(M.Precision).name == "precision"
    assert M.AUC(num_thresholds=5).thresholds[1:-1] == [0.25, 0.5, 0.75]
    assert M.Precision(thresholds=[0.2, 0.4]).get_config() == {"name": "precision", "thresholds": [0.2, 0.4],
                                                                "top_k": None, "class_id": None}
    with pytest.raises(ConfigError, match=r"threshold values must be in \[0, 1\]"):
        M.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ConfigError, match="num_thresholds must be an integer > 1"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ConfigError, match="curve must be 'ROC', 'PR' or 'PRGAIN'"):
        M.AUC(curve="ROCK")
    with pytest.raises(ConfigError, match="unknown metric 'precison'.*Did you mean 'precision'"):
        M.get("precison")


def _pair(units):
    ours = kir.Sequential([kir.Input((6,)), kir.layers.Dense(units, activation="sigmoid")])
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _metrics(lib):  # named: Keras numbers default names per process (precision_3)
    return [lib.Precision(name="p"), lib.Recall(thresholds=[0.3, 0.7], name="r"), lib.AUC(name="roc"),
            lib.AUC(curve="PR", name="pr"), lib.TruePositives(name="tp"), lib.FalseNegatives(thresholds=0.4, name="fn")]


def test_evaluate_and_fit_accumulate_over_the_epoch_like_keras():
    x = RNG.normal(size=(40, 6)).astype("float32")
    ours, theirs = _pair(1)
    kw = dict(loss="binary_crossentropy", metrics=["auc", "precision"])
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.0), weighted_metrics=_metrics(M), jit_compile=False,
                 **kw)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), weighted_metrics=_metrics(keras.metrics), **kw)
    for sw in (None, SW):  # batches of 16: 16 + 16 + 8 samples, sums carried across them
        got = ours.evaluate(x, Y, batch_size=16, sample_weight=sw, verbose=0, return_dict=True)
        want = theirs.evaluate(x, Y, batch_size=16, sample_weight=sw, verbose=0, return_dict=True)
        assert sorted(got) == sorted(want)
        for key in want:
            _assert_matches(got[key], want[key])
    # fit with frozen weights (lr 0): the epoch's values are those of the whole data set
    h1 = ours.fit(x, Y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, Y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    for key in h2:
        _assert_matches(h1[key], h2[key])


def test_top_k_and_class_id_in_training_like_keras():
    x = RNG.normal(size=(40, 6)).astype("float32")
    ours, theirs = _pair(4)
    make = lambda lib: [lib.Precision(top_k=2, name="p2"), lib.Recall(class_id=1, name="r1"), lib.AUC(name="auc")]  # noqa: E731
    ours.compile(optimizer="sgd", loss="binary_crossentropy", metrics=make(M), jit_compile=False)
    theirs.compile(optimizer="sgd", loss="binary_crossentropy", metrics=make(keras.metrics))
    got = ours.evaluate(x, YM, batch_size=10, verbose=0, return_dict=True)
    want = theirs.evaluate(x, YM, batch_size=10, verbose=0, return_dict=True)
    for key in want:
        _assert_matches(got[key], want[key])


def test_metrics_without_targets_are_refused():
    ours, _ = _pair(1)
    ours.add_loss(ours.outputs[0])
    ours.compile(optimizer="sgd", metrics=[M.Precision()], jit_compile=False)
    with pytest.raises(FeedError, match="compiled with metrics, which need targets"):
        ours.evaluate(RNG.normal(size=(4, 6)).astype("float32"), verbose=0)
