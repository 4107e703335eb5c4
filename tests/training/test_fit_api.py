"""fit/evaluate/predict behaviour: weights flow, program reuse, validation, callbacks, errors."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import callbacks as C  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.errors import ConfigError, FeedError, KirError  # noqa: E402

RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 6)).astype("float32")
Y = np.eye(3, dtype="float32")[RNG.integers(0, 3, 40)]


def small(compile_=True, **kw):
    m = kir.Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dense(3, activation="softmax")])
    if compile_:
        kw.setdefault("jit_compile", False)  # tracing only: these tests check behaviour, not XLA
        m.compile(optimizer=kw.pop("optimizer", "sgd"), loss="categorical_crossentropy", metrics=["accuracy"], **kw)
    return m


def two_outputs():
    a = kir.Input((6,), name="a")
    h = L.Dense(4, activation="relu")(a)
    o1 = L.Dense(1, activation="sigmoid", name="main_output")(h)
    o2 = L.Dense(3, activation="softmax", name="aux_output")(h)
    return kir.Model(a, [o1, o2])


def test_weights_written_back_and_program_reused():
    m = small()
    before = m.get_weights()
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    after = m.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    prog = kir.backends.get("tensorflow").program(m.to_graph())
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert kir.backends.get("tensorflow").program(m.to_graph()) is prog
    # set_weights before a later fit is respected: zero weights, zero lr -> weights stay zero
    m.compile(optimizer=kir.optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy", jit_compile=False)
    m.set_weights([np.zeros_like(w) for w in after])
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert all(np.all(w == 0) for w in m.get_weights())
    assert kir.backends.get("tensorflow").program(m.to_graph()) is prog


def test_predict_tensorflow_matches_numpy_after_fit():
    m = small(jit_compile="auto")  # the default: XLA
    m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    np.testing.assert_allclose(m.predict(X, backend="tensorflow"), m.predict(X), atol=1e-5)


def test_validation_split_and_data_and_history_keys():
    m = small()
    h = m.fit(X, Y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    assert list(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    # the validation loss is evaluate() on the last 25% with the weights after each epoch
    assert h.history["val_loss"][-1] == pytest.approx(m.evaluate(X[30:], Y[30:], verbose=0)[0], rel=1e-5)
    h2 = m.fit(X, Y, epochs=1, validation_data=(X[:10], Y[:10]), verbose=0)
    assert "val_loss" in h2.history


def test_train_on_batch_test_on_batch_and_evaluate_forms():
    m = small()
    loss, acc = m.train_on_batch(X, Y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    r = m.test_on_batch(X, Y, return_dict=True)
    assert set(r) == {"loss", "accuracy"}
    assert m.evaluate(X, Y, verbose=0, return_dict=True)["loss"] == pytest.approx(r["loss"], rel=1e-5)
    m.compile(optimizer="adam", loss="categorical_crossentropy", jit_compile=False)
    assert isinstance(m.evaluate(X, Y, verbose=0), float)


def test_multi_output_dicts_loss_weights_and_per_output_metrics():
    m = two_outputs()
    yb = RNG.integers(0, 2, (40, 1))
    m.compile(optimizer="adam", loss={"main_output": "binary_crossentropy", "aux_output": "categorical_crossentropy"},
              loss_weights={"main_output": 1.0, "aux_output": 0.5},
              metrics={"main_output": ["accuracy"], "aux_output": ["accuracy"]}, jit_compile=False)
    h = m.fit({"a": X}, {"main_output": yb, "aux_output": Y}, epochs=1, batch_size=10, verbose=0)
    assert list(h.history) == ["aux_output_accuracy", "aux_output_loss", "loss", "main_output_accuracy",
                               "main_output_loss"]
    logs = m.evaluate(X, [yb, Y], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["main_output_loss"] + 0.5 * logs["aux_output_loss"], rel=1e-5)


def test_class_weight_and_sample_weight_change_the_loss():
    m = small(optimizer=kir.optimizers.SGD(learning_rate=0.0))
    base = m.fit(X, Y, epochs=1, verbose=0).history["loss"][0]
    doubled = m.fit(X, Y, epochs=1, verbose=0, sample_weight=np.full(40, 2.0)).history["loss"][0]
    assert doubled == pytest.approx(2 * base, rel=1e-5)
    cw = m.fit(X, Y, epochs=1, verbose=0, class_weight={0: 3.0, 1: 3.0, 2: 3.0}).history["loss"][0]
    assert cw == pytest.approx(3 * base, rel=1e-5)


def test_callbacks_in_fit(tmp_path):
    m = small(optimizer=kir.optimizers.SGD(learning_rate=0.1))
    seen = {"batches": 0, "epochs": []}

    class Counter(C.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["batches"] += 1
            assert "loss" in logs

        def on_epoch_end(self, epoch, logs=None):
            seen["epochs"].append(epoch)

    lrs = []
    h = m.fit(X, Y, epochs=3, batch_size=10, verbose=0, validation_split=0.25, initial_epoch=1, callbacks=[
        Counter(), C.LearningRateScheduler(lambda e, lr: 0.05 * (e + 1)),
        C.LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(float(m.optimizer.learning_rate.numpy()))),
        C.CSVLogger(str(tmp_path / "log.csv")),
    ])
    assert seen == {"batches": 6, "epochs": [1, 2]}
    assert lrs == pytest.approx([0.1, 0.15])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.15])
    assert (tmp_path / "log.csv").read_text().splitlines()[0].startswith("epoch,")


def test_early_stopping_stops_fit():
    m = small(optimizer=kir.optimizers.SGD(learning_rate=0.0))
    h = m.fit(X, Y, epochs=10, verbose=0, validation_split=0.25, callbacks=[C.EarlyStopping(patience=1)])
    assert len(h.history["loss"]) == 2


def test_model_checkpoint_calls_save(tmp_path, monkeypatch):
    m = small()
    saved = []
    monkeypatch.setattr(m, "save", lambda path, *a, **k: saved.append((path, m.get_weights()[0].copy())))
    m.fit(X, Y, epochs=2, verbose=0, callbacks=[C.ModelCheckpoint(str(tmp_path / "m{epoch}.kir"))])
    assert [p.split("/")[-1] for p, _ in saved] == ["m1.kir", "m2.kir"]
    np.testing.assert_array_equal(saved[-1][1], m.get_weights()[0])  # saved the trained weights


def test_keyboard_interrupt_keeps_last_completed_step():
    m = small()

    class Interrupt(C.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                program = kir.backends.get("tensorflow").program(m.to_graph())
                self.weights = [v.numpy().copy() for v in program.variables.values()]
                raise KeyboardInterrupt

    cb = Interrupt()
    h = m.fit(X, Y, epochs=3, batch_size=8, verbose=0, callbacks=[cb])
    assert h.history == {}
    for a, b in zip(m.get_weights(), cb.weights):
        np.testing.assert_array_equal(a, b)


def test_dropout_is_seeded_and_only_in_training():
    def make():
        kir.utils.set_random_seed(5)
        return kir.Sequential([L.Dense(8, input_shape=(6,)), L.Dropout(0.5, seed=7), L.Dense(3)])

    a, b = make(), make()
    for m in (a, b):
        m.compile(optimizer="sgd", loss="mse", jit_compile=False)
        m.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_allclose(a.predict(X, backend="tensorflow"), a.predict(X), atol=1e-5)


def test_errors_name_what_is_wrong():
    m = small(compile_=False)
    with pytest.raises(ConfigError, match="must be compiled before fit"):
        m.fit(X, Y)
    with pytest.raises(ConfigError, match="unknown loss 'categorical_crosentropy'.*'categorical_crossentropy'"):
        m.compile(optimizer="sgd", loss="categorical_crosentropy")
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprob'.*'rmsprop'"):
        m.compile(optimizer="rmsprob", loss="mse")
    with pytest.raises(ConfigError, match="unknown metric 'acurracy'.*'accuracy'"):
        m.compile(optimizer="sgd", loss="mse", metrics=["acurracy"])
    m.compile(optimizer="sgd", loss="categorical_crossentropy", jit_compile=False)
    with pytest.raises(FeedError, match="inputs have 40 samples but targets have 39"):
        m.fit(X, Y[:39], verbose=0)
    mm = two_outputs()
    with pytest.raises(ConfigError, match="list of 3 .* 2 output"):
        mm.compile(optimizer="sgd", loss=["mse", "mse", "mse"])
    with pytest.raises(ConfigError, match="names output 'main'.*Did you mean 'main_output'"):
        mm.compile(optimizer="sgd", loss={"main": "mse"})
    mm.compile(optimizer="sgd", loss="mse", jit_compile=False)
    with pytest.raises(FeedError, match="no output named 'aux'"):
        mm.fit({"a": X}, {"main_output": Y[:, :1], "aux": Y}, verbose=0)
    with pytest.raises(FeedError, match="no data for output 'aux_output'"):
        mm.fit({"a": X}, {"main_output": Y[:, :1]}, verbose=0)
    with pytest.raises(FeedError, match="no input named 'b'"):
        mm.fit({"b": X}, [Y[:, :1], Y], verbose=0)
    with pytest.raises(KirError, match="sparse_categorical_crossentropy"):
        m.fit(X, RNG.integers(0, 3, (40, 2)).astype("float32"), verbose=0)
