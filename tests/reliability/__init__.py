"""Reliability: atomic files, hostile files within bounds, killed writers, kir-export robustness (issue 11)."""
