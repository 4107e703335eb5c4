"""kir.metrics.AUC with all of keras.metrics.AUC's arguments (curve ROC/PR/PRGAIN, the three
summation methods, multi_label with num_labels and label_weights, explicit thresholds,
from_logits, sample weights): eagerly batch after batch, and accumulated over an epoch by
`evaluate` and `fit` against a Keras 3 twin with the same weights and data."""

import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.metrics as M  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402

RNG = np.random.default_rng(11)
Y = RNG.integers(0, 2, (48, 3)).astype("float32")
P = RNG.uniform(size=(48, 3)).astype("float32")
P[:5, 0] = [0.0, 1.0, 0.5, 0.25, 0.75]  # on thresholds and bucket edges
SW = RNG.uniform(size=(48,)).astype("float32")
X = RNG.normal(size=(48, 6)).astype("float32")
LABEL_WEIGHTS = [0.5, 2.0, 1.0]

CURVES = ["ROC", "PR", "PRGAIN"]
METHODS = ["interpolation", "minoring", "majoring"]
VARIANTS = [  # (multi_label, num_labels, label_weights, thresholds, from_logits)
    (False, None, None, None, False), (False, None, LABEL_WEIGHTS, None, False),
    (True, None, None, None, False), (True, 3, LABEL_WEIGHTS, None, False),
    (True, None, LABEL_WEIGHTS, [0.1, 0.45, 0.9], False), (True, 3, None, None, True),
]


def _close(ours, theirs):
    """1e-6 (Keras counts in float32, kir in float64)."""
    assert abs(float(ours) - float(theirs)) <= 1e-6, (ours, float(theirs))


def _kwargs(curve, method, variant, num_thresholds=50):
    multi_label, num_labels, label_weights, thresholds, from_logits = variant
    kw = dict(num_thresholds=num_thresholds, curve=curve, summation_method=method, multi_label=multi_label,
              num_labels=num_labels, label_weights=label_weights, from_logits=from_logits)
    return kw if thresholds is None else {**kw, "thresholds": thresholds}


@pytest.mark.parametrize("curve,method", list(itertools.product(CURVES, METHODS)))
def test_running_value_matches_keras_over_batches(curve, method):
    for variant in VARIANTS:
        kw = _kwargs(curve, method, variant)
        p = P * 8 - 4 if kw["from_logits"] else P
        theirs, ours, ours_tf = keras.metrics.AUC(**kw), M.AUC(**kw), M.AUC(**kw)
        for sl, weighted in ((slice(0, 13), True), (slice(13, 30), False), (slice(30, 48), True)):
            sw = SW[sl] if weighted else None
            theirs.update_state(Y[sl], p[sl], sample_weight=sw)
            ours.update_state(Y[sl], p[sl], sample_weight=sw)
            ours_tf.update_state(tf.constant(Y[sl]), tf.constant(p[sl]), None if sw is None else tf.constant(sw))
        _close(ours.result(), theirs.result())
        _close(ours_tf.result(), theirs.result())
        ours.reset_state()
        assert not np.any(ours.state)


def test_multi_label_counts_per_label_and_averages_with_label_weights():
    one = [M.AUC(curve="PR", num_thresholds=30) for _ in range(3)]
    both = M.AUC(curve="PR", num_thresholds=30, multi_label=True, label_weights=LABEL_WEIGHTS)
    for j, m in enumerate(one):
        m.update_state(Y[:, j], P[:, j], SW)
    both.update_state(Y, P, SW)
    assert both.state.shape == (4 * 30 * 3,)  # (tp, fp, tn, fn) x thresholds x labels
    per_label = np.array([m.result() for m in one])
    assert both.result() == pytest.approx(np.sum(per_label * LABEL_WEIGHTS) / np.sum(LABEL_WEIGHTS), abs=1e-7)


def _twin(units=3):
    ours = kir.Sequential([kir.Input((6,)), kir.layers.Dense(units, activation="sigmoid")])
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _grid(lib):
    """curve ROC/PR x summation x multi_label (with num_labels and label_weights), plus PRGAIN and
    from_logits; named, since Keras numbers default names per process (auc_3)."""
    out = []
    for curve, method, multi_label in itertools.product(["ROC", "PR"], METHODS, [False, True]):
        out.append(lib.AUC(name=f"{curve}_{method}_{multi_label}", curve=curve, summation_method=method,
                           multi_label=multi_label, num_labels=3 if multi_label else None,
                           label_weights=LABEL_WEIGHTS))
    out.append(lib.AUC(name="prgain", curve="PRGAIN", multi_label=True))
    out.append(lib.AUC(name="logits", curve="PR", from_logits=True, multi_label=True))
    return out


def test_evaluate_and_fit_logs_match_a_keras_twin():
    ours, theirs = _twin()
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy",
                 weighted_metrics=_grid(M), jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy",
                   weighted_metrics=_grid(keras.metrics))
    for sw in (SW, None):  # batches 16 + 16 + 16, counts carried across them
        got = ours.evaluate(X, Y, batch_size=16, sample_weight=sw, verbose=0, return_dict=True)
        want = theirs.evaluate(X, Y, batch_size=16, sample_weight=sw, verbose=0, return_dict=True)
        assert sorted(got) == sorted(want)
        for key in want:
            _close(got[key], want[key])
    # the weights move (lr 0.1): each epoch's logs are the counts of that epoch only
    h1 = ours.fit(X, Y, batch_size=16, epochs=2, shuffle=False, sample_weight=SW, verbose=0).history
    h2 = theirs.fit(X, Y, batch_size=16, epochs=2, shuffle=False, sample_weight=SW, verbose=0).history
    assert sorted(h1) == sorted(h2)
    for key in h2:
        assert len(h1[key]) == 2
        for a, b in zip(h1[key], h2[key]):
            _close(a, b)
    assert h1["ROC_interpolation_True"][0] != h1["ROC_interpolation_True"][1]


def test_multi_label_with_uneven_thresholds_in_evaluate_matches_keras_eagerly():
    # Keras' compiled evaluate cannot run this case (NotImplementedError in its graph path)
    ours, _ = _twin()
    make = lambda lib: lib.AUC(name="auc", thresholds=[0.3, 0.5, 0.55], multi_label=True,  # noqa: E731
                               label_weights=LABEL_WEIGHTS, curve="PR")
    ours.compile(optimizer="sgd", loss="binary_crossentropy", weighted_metrics=[make(M)], jit_compile=False)
    got = ours.evaluate(X, Y, batch_size=16, sample_weight=SW, verbose=0, return_dict=True)["auc"]
    theirs = make(keras.metrics)
    theirs.update_state(Y, ours.predict(X, verbose=0), sample_weight=SW)
    _close(got, theirs.result())


def test_multi_label_sizes_from_the_model_output_and_refuses_other_shapes():
    ours, _ = _twin(4)
    auc = M.AUC(multi_label=True, num_thresholds=20)
    ours.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[auc], jit_compile=False)
    y = RNG.integers(0, 2, (8, 4)).astype("float32")
    ours.evaluate(X[:8], y, verbose=0)
    assert auc._num_labels == 4 and auc.state_size() == 4 * 20 * 4
    other, _ = _twin(2)  # the metric counts 4 labels now, as Keras' built variables do
    other.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[auc], jit_compile=False)
    with pytest.raises(ShapeError, match="AUC 'auc': y_pred has 2 labels but the metric counts 4"):
        other.evaluate(X[:8], y[:, :2], verbose=0)
    seq = kir.Sequential([kir.Input((5, 6)), kir.layers.Dense(3, activation="sigmoid")])
    seq.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[M.AUC(multi_label=True)], jit_compile=False)
    with pytest.raises(ShapeError, match=r"must have rank 2 \(samples, labels\) when multi_label=True"):
        seq.evaluate(RNG.normal(size=(4, 5, 6)), np.zeros((4, 5, 3)), verbose=0)
    weighted = M.AUC(label_weights=[1.0, 2.0])
    with pytest.raises(ShapeError, match="label_weights has 2 values but y_pred has 3 labels"):
        weighted.update_state(Y, P)


def test_config_and_errors_follow_keras():
    kw = dict(num_thresholds=7, curve="PR", summation_method="majoring", multi_label=True, num_labels=3,
              label_weights=LABEL_WEIGHTS, from_logits=True)
    ours, theirs = M.AUC(**kw).get_config(), keras.metrics.AUC(**kw).get_config()
    assert ours["label_weights"] == LABEL_WEIGHTS
    assert {k: v for k, v in ours.items() if k not in ("name", "label_weights")} == \
        {k: v for k, v in theirs.items() if k not in ("name", "label_weights", "dtype")}
    assert M.AUC(**ours).get_config() == ours
    assert M.AUC(thresholds=[0.7, 0.2]).get_config()["thresholds"] == [0.2, 0.7]
    assert M.AUC(curve="prgain", summation_method="Minoring").get_config()["curve"] == "PRGAIN"
    assert M.AUC(multi_label=True).result() == 0.0  # nothing counted yet
    bad = [({"curve": "XYZ"}, "curve must be 'ROC', 'PR' or 'PRGAIN', got 'XYZ'"),
           ({"summation_method": "trapezoid"}, "summation_method must be one of 'interpolation', 'majoring', "
                                               "'minoring', got 'trapezoid'"),
           ({"num_thresholds": 1}, "num_thresholds must be an integer > 1, got 1"),
           ({"num_labels": 3}, "num_labels=3 is needed only when multi_label is True"),
           ({"multi_label": True, "num_labels": 0}, "num_labels must be a positive integer, got 0"),
           ({"label_weights": [1.0, -1.0]}, "label_weights must be a non-empty list of finite non-negative"),
           ({"label_weights": [[1.0]]}, "label_weights must be a non-empty list"),
           ({"multi_label": True, "num_labels": 2, "label_weights": LABEL_WEIGHTS},
            "label_weights has 3 values but num_labels=2")]
    for kwargs, message in bad:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            M.AUC(**kwargs)
    auc = M.AUC(multi_label=True)
    with pytest.raises(ShapeError, match="got shape \\(2, 3, 4\\)"):
        auc.update_state(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
