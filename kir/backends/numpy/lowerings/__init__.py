"""Numpy lowerings, one module per op family; importing this package registers them all."""

from kir.backends.table import import_families

import_families(__name__, __path__)
