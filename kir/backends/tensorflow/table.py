"""The TensorFlow lowering table: op type -> lowering(ctx, attrs, inputs, params) -> outputs.

A lowering turns one IR vertex into TensorFlow ops while the training/inference function is
traced: `inputs` are tf.Tensors, `params` maps parameter roles to the program's tf.Variables,
and `ctx` (a `TensorFlowContext`) says whether this is a training trace.
"""

from kir.backends.table import LoweringTable

LOWERINGS: LoweringTable = LoweringTable("tensorflow")
