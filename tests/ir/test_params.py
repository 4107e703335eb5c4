"""ParamStore: registration once per owner, trainable flags, write-back callbacks, versions."""

from __future__ import annotations

import numpy as np

from kir.ir import ParamStore


def test_register_once_per_owner_with_unique_readable_keys():
    store = ParamStore()
    w = np.ones((2, 2), "float32")
    k1 = store.register(("layer-a", "kernel"), "dense/kernel", w)
    assert store.register(("layer-a", "kernel"), "dense/kernel", np.zeros(1)) == k1 == "dense/kernel"
    assert store[k1] is w
    k2 = store.register(("layer-b", "kernel"), "dense/kernel", w)
    assert k2 == "dense/kernel_1"


def test_trainable_flags_and_derived_arrays():
    store = ParamStore()
    store.register(1, "a/kernel", np.ones(2), trainable=True)
    store.register(2, "a/moving_mean", np.ones(2), trainable=False)
    derived = store.add("a/kernel_folded", np.ones(2))
    assert store.trainable_keys() == frozenset({"a/kernel"})
    assert not store.is_trainable(derived) and not store.is_trainable("missing")


def test_write_back_hands_the_value_to_the_owner_and_changes_the_version():
    received = []
    store = ParamStore()
    key = store.register(1, "a/kernel", np.zeros((2, 2), "float32"), writer=received.append)
    before = store.version
    store.write_back(key, np.arange(4, dtype="float64"))
    assert store.version != before
    assert store[key].dtype == np.float32 and store[key].shape == (2, 2)
    assert len(received) == 1 and received[0] is store[key]
    assert store.writes_back(key) and not store.writes_back(store.add("x", np.ones(1)))


def test_copy_shares_arrays_and_version_until_it_changes():
    store = ParamStore()
    store.register(1, "a/kernel", np.ones(2))
    copy = store.copy()
    assert copy.version == store.version and copy["a/kernel"] is store["a/kernel"]
    copy.add("a/kernel_nchw", np.ones(2))
    assert copy.version != store.version and "a/kernel_nchw" not in store
