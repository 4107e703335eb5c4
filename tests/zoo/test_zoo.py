"""kir.zoo: the library switch, the naming switch, fresh models per call, and the benchmark registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kir
from kir.errors import ConfigError
from kir.zoo import bench, guide, keras_examples, library

ROOT = Path(__file__).resolve().parents[2]

SMALL = {
    guide.sequential_mlp: dict(input_dim=6, hidden=4, classes=3),
    guide.sequential_add: dict(input_dim=6, hidden=4),
    guide.mlp_binary: dict(input_dim=6, hidden=4),
    guide.mlp_categorical: dict(input_dim=6, hidden=4, classes=3, batchnorm=True, dropout=0.5),
    guide.functional_mlp: dict(input_dim=6, hidden=4, classes=3),
    guide.time_distributed_mlp: dict(steps=2, input_dim=6, hidden=4, classes=3),
    guide.multi_io: dict(seq_len=4, vocab=20, embed=3, lstm_units=2, aux_dim=2, hidden=3),
    guide.shared_lstm: dict(timesteps=3, features=4, units=2),
    guide.inception: dict(size=6, filters=2),
    guide.residual: dict(size=6),
    guide.shared_vision: dict(size=8, filters=2),
    guide.vqa: dict(image=32, seq_len=4, vocab=20, embed=3, lstm_units=2, answers=5, filters=(2, 2, 2)),
    guide.video_qa: dict(frames=2, image=32, seq_len=4, vocab=20, embed=3, lstm_units=2, answers=5,
                         filters=(2, 2, 2)),
    keras_examples.mnist_mlp: dict(input_dim=6, hidden=4, classes=3),
    keras_examples.mnist_cnn: dict(size=8, classes=3),
    keras_examples.imdb_lstm: dict(length=4, vocab=20, units=2),
    keras_examples.small_cnn: dict(size=6, filters=2, classes=3),
}
IDS = [f.__name__ for f in SMALL]


def _names(layer, found: list[str]) -> list[str]:
    """Every layer name, through nested models and wrappers."""
    found.append(layer.name)
    for child in getattr(layer, "layers", []):
        _names(child, found)
    if getattr(layer, "layer", None) is not None:
        _names(layer.layer, found)
    return found


def test_library_resolves_names_and_modules():
    assert library() is kir and library("kir") is kir and library(kir) is kir
    for bad in ("torch", 3, sys):
        with pytest.raises(ConfigError, match="lib must be one of kir, keras"):
            library(bad)


def test_importing_the_zoo_imports_no_keras_and_kir_does_not_import_the_zoo():
    code = ("import json, sys; import kir; before = 'kir.zoo' in sys.modules; import kir.zoo; "
            "print(json.dumps([before, sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'))]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, []]


@pytest.mark.parametrize("factory", SMALL, ids=IDS)
def test_names_true_names_every_layer_once_and_calls_build_fresh_models(factory):
    a, b = factory(**SMALL[factory], names=True), factory(**SMALL[factory], names=True)
    names = _names(a, [])
    assert names == _names(b, []) and len(set(names)) == len(names)
    assert not {id(x) for x in a.layers} & {id(y) for y in b.layers}
    assert a.count_params() == b.count_params() > 0


@pytest.mark.parametrize("factory", SMALL, ids=IDS)
def test_names_false_leaves_all_but_the_guides_names_to_the_library(factory):
    """Automatic names count up from one model to the next; only the names the guide writes repeat."""
    first, second = _names(factory(**SMALL[factory]), []), _names(factory(**SMALL[factory]), [])
    assert set(first) & set(second) <= {"main_input", "aux_input", "aux_output", "main_output"}


def test_parts_are_the_models_the_guide_keeps():
    pair = guide.shared_vision_parts(8, 2)
    assert pair.classification_model.get_layer(pair.vision_model.name) is pair.vision_model
    video = guide.video_qa_parts(frames=2, image=32, seq_len=4, vocab=20, embed=3, lstm_units=2, answers=5,
                                 filters=(2, 2, 2), names=True)
    assert video.video_qa_model.get_layer("td_vision").layer is video.vqa.vision_model
    assert video.video_qa_model.get_layer("question_encoder") is video.question_encoder
    assert video.vqa.vqa_model.input_names == ["image_input", "question_input"]


@pytest.mark.parametrize("name", sorted(bench.MODELS))
def test_bench_models_take_the_feeds_they_describe(name):
    spec = bench.MODELS[name]
    size = min(spec.size, 16) if spec.size else 0
    model = spec.build(kir, size)
    specs = spec.inputs(size or spec.size)
    assert model.input_names == [s.name for s in specs]
    assert [tuple(t.shape[1:]) for t in model.inputs] == [s.shape for s in specs]
    assert spec.flops(size or spec.size) > 0
