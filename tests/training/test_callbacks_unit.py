"""Callbacks driven by hand with a stand-in model object (no training involved)."""

import io

import pytest

from kir import callbacks as C
from kir.errors import ConfigError


class FakeOpt:
    def __init__(self):
        self.learning_rate = 0.1


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.optimizer = FakeOpt()
        self.weights = [1]
        self.saved = []

    def get_weights(self):
        return list(self.weights)

    def set_weights(self, w):
        self.weights = list(w)

    def save(self, path):
        self.saved.append(path)


def _drive(cb, losses, key="val_loss"):
    m = FakeModel()
    cb.set_model(m)
    cb.on_train_begin()
    for epoch, v in enumerate(losses):
        m.weights = [epoch]
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {key: v, "loss": v})
        if m.stop_training:
            break
    cb.on_train_end()
    return m, epoch


def test_early_stopping_patience_and_restore():
    m, stopped = _drive(C.EarlyStopping(patience=2, restore_best_weights=True), [1.0, 0.5, 0.6, 0.7, 0.4])
    assert stopped == 3 and m.weights == [1]


def test_early_stopping_accuracy_is_maximized():
    m, stopped = _drive(C.EarlyStopping(monitor="val_accuracy", patience=1), [0.5, 0.6, 0.55, 0.7],
                        key="val_accuracy")
    assert stopped == 2


def test_reduce_lr_on_plateau():
    m, _ = _drive(C.ReduceLROnPlateau(factor=0.5, patience=1), [1.0, 1.0, 1.0])
    assert m.optimizer.learning_rate == pytest.approx(0.025)


def test_model_checkpoint_best_only_formats_path(tmp_path):
    cb = C.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.1f}.kir"), save_best_only=True)
    m, _ = _drive(cb, [1.0, 2.0, 0.5])
    assert [p.split("/")[-1] for p in m.saved] == ["m-01-1.0.kir", "m-03-0.5.kir"]


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    _drive(C.CSVLogger(str(path)), [1.0, 0.5])
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,1.0", "1,0.5,0.5"]


def test_learning_rate_scheduler_and_lambda():
    seen = []
    cbs = C.CallbackList([C.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
                          C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    m, _ = _drive(cbs, [1.0, 1.0, 1.0])
    assert m.optimizer.learning_rate == pytest.approx(0.0125) and seen == [0, 1, 2]
    assert not cbs.has_batch_hooks("on_train_batch_end")


def test_progbar_format():
    out = io.StringIO()
    bar = C.Progbar(32, stream=out)
    bar.update(32, {"accuracy": 0.5, "loss": 0.69312}, finalize=True)
    line = out.getvalue().strip()
    assert line.startswith("32/32 " + "━" * 20)
    assert line.endswith("- accuracy: 0.5000 - loss: 0.6931")
    assert "/step" in line


def test_callbacks_must_be_callback_instances():
    with pytest.raises(ConfigError, match="Callback instances"):
        C.CallbackList([object()])


def test_progbar_shows_the_mean_of_a_metric_over_several_thresholds(capsys):
    import numpy as np

    from kir.callbacks import Progbar

    bar = Progbar(2, verbose=1)
    bar.update(2, {"precision": np.array([0.5, 0.7]), "loss": 0.25})
    out = capsys.readouterr().out
    assert "precision: 0.6000" in out and "loss: 0.2500" in out
