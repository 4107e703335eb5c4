"""Graph passes: shape inference, inlining, cleanups, fusions and the NCHW layout.

Entry point: `run_pipeline(graph, pipeline='inference', level='O2', static_batch=None,
nchw_io=False) -> (new_graph, report)`. Each pass is also callable on its own
(`kir.passes.dce(graph) -> PassResult`) and never mutates its input. See docs/passes.md.
"""

from kir.passes.base import PASSES, GraphPass, PassResult, graph_pass
from kir.passes.cleanup import cse, dce, eliminate_identities
from kir.passes.fusion import collapse_reshapes, fold_batch_norm, fuse_activations
from kir.passes.inline import inline, inline_calls
from kir.passes.layout import layout
from kir.passes.manager import LEVELS, PIPELINES, PassManager, PipelineReport, pipeline_passes, run_pipeline
from kir.passes.shape_inference import infer_shapes

__all__ = [
    "LEVELS", "PASSES", "PIPELINES", "GraphPass", "PassManager", "PassResult", "PipelineReport",
    "collapse_reshapes", "cse", "dce", "eliminate_identities", "fold_batch_norm", "fuse_activations",
    "graph_pass", "infer_shapes", "inline", "inline_calls", "layout", "pipeline_passes", "run_pipeline",
]
