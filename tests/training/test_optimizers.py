"""kir optimizers step for step against Keras 3 optimizers on the same variables and gradients."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir.optimizers as O  # noqa: E402
from kir.errors import ConfigError  # noqa: E402

RNG = np.random.default_rng(1)
INIT = [RNG.normal(size=(3, 4)).astype("float32"), RNG.normal(size=(4,)).astype("float32")]
GRADS = [[RNG.normal(size=w.shape).astype("float32") * 3 for w in INIT] for _ in range(6)]

CONFIGS = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adagrad", {}), ("Adadelta", {"learning_rate": 1.0}), ("Adam", {}), ("Adam", {"amsgrad": True}),
    ("AdamW", {}), ("Adamax", {}), ("Nadam", {}),
    ("SGD", {"clipnorm": 1.0}), ("Adam", {"clipvalue": 0.5}), ("RMSprop", {"global_clipnorm": 2.0}),
    ("Adam", {"weight_decay": 0.01}),
]


def _run(opt, variables, steps):
    for grads in GRADS[:steps]:
        opt.apply([tf.constant(g) for g in grads], variables)


@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=[f"{c}-{k}" for c, k in CONFIGS])
def test_steps_match_keras(cls, kwargs):
    ours = [tf.Variable(w) for w in INIT]
    theirs = [keras.Variable(w) for w in INIT]
    opt = getattr(O, cls)(**kwargs)
    kopt = getattr(keras.optimizers, cls)(**kwargs)
    _run(opt, ours, 6)
    _run(kopt, theirs, 6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b), rtol=1e-6, atol=1e-6)
    assert int(opt.iterations.numpy()) == 6


def test_steps_match_keras_inside_tf_function():
    ours = [tf.Variable(w) for w in INIT]
    theirs = [keras.Variable(w) for w in INIT]
    opt, kopt = O.Nadam(learning_rate=0.01), keras.optimizers.Nadam(learning_rate=0.01)
    opt.build(ours)

    @tf.function
    def step(g0, g1):
        opt.apply([g0, g1], ours)

    for g in GRADS:
        step(tf.constant(g[0]), tf.constant(g[1]))
    _run(kopt, theirs, 6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b), rtol=1e-6, atol=1e-6)


SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5, staircase=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ("PiecewiseConstantDecay", dict(boundaries=[1, 3], values=[0.1, 0.05, 0.01])),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=4)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=4, warmup_target=0.1, warmup_steps=2)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=4)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_match_keras_and_drive_the_optimizer(name, kwargs):
    ours, theirs = getattr(O.schedules, name)(**kwargs), getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in range(7):
        expected = float(keras.ops.convert_to_numpy(theirs(step)))
        assert float(np.asarray(ours(step))) == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert float(ours(tf.constant(step, "int64"))) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    v, kv = [tf.Variable(w) for w in INIT], [keras.Variable(w) for w in INIT]
    _run(O.SGD(learning_rate=ours), v, 5)
    _run(keras.optimizers.SGD(learning_rate=theirs), kv, 5)
    np.testing.assert_allclose(v[0].numpy(), keras.ops.convert_to_numpy(kv[0]), rtol=1e-6, atol=1e-6)


def test_defaults_are_keras_defaults():
    for name, cls in O.CLASSES.items():
        kcls = keras.optimizers.get(name).__class__
        k = kcls().get_config()
        ours = cls().get_config()
        for key, val in ours.items():
            if key in k and key not in ("name",):
                assert k[key] == pytest.approx(val) if isinstance(val, float) else k[key] == val, (name, key)


def test_learning_rate_is_settable_as_a_float_but_not_with_a_schedule():
    opt = O.Adam()
    v = [tf.Variable(w) for w in INIT]
    opt.build(v)
    opt.learning_rate = 0.5
    assert float(opt.learning_rate.numpy()) == 0.5
    sched = O.SGD(learning_rate=O.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(ConfigError, match="schedule"):
        sched.learning_rate = 0.1


def test_get_by_name_and_errors():
    assert isinstance(O.get("adam"), O.Adam)
    assert isinstance(O.get("RMSprop"), O.RMSprop)
    opt = O.SGD()
    assert O.get(opt) is opt
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprp'.*Did you mean 'rmsprop'"):
        O.get("rmsprp")
    with pytest.raises(ConfigError, match="only one of clipnorm and global_clipnorm"):
        O.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ConfigError, match="Keras 2"):
        O.SGD(lr=0.1)
