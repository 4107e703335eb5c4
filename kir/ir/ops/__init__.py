"""Op definitions: one shape rule per op type, grouped by family in sibling modules."""

from kir.ir.ops.registry import infer, registered_ops, shape_rule

__all__ = ["infer", "registered_ops", "shape_rule"]
