"""A hypothesis strategy of random valid kir models, for differential fuzzing.

`model_recipe` draws a Model (with random weights, BatchNorm statistics included) and matching
inputs. Models mix Dense, Conv1D/2D (strides, dilation, padding), pooling, BatchNormalization,
LayerNormalization, SimpleRNN/GRU/LSTM (sequences, returned and initial states, dropout rates,
use_cudnn), Embedding, merges, Reshape/Permute/Flatten, shared layers, nested models and
TimeDistributed; masks from Embedding(mask_zero=True), Masking and explicit `mask=` inputs (bool
model inputs fed with random masks) to RNNs, Bidirectional, GlobalAveragePooling1D, Attention and
MultiHeadAttention (value/key/attention masks, causal); MultiHeadAttention with attention_axes on
rank-4 tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import kir
from kir import layers as L
from kir.layers.tensor import KTensor
from kir.models import Model, Sequential


@dataclass
class Recipe:
    model: Model
    feeds: list[np.ndarray]
    steps: list[str]
    keras_oracle: bool = False  # whether Keras also loads kir's files of this model and predicts
    keras_h5: bool = True  # False: Keras cannot load its own .h5 of a layer here (Attention's score_mode)

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"Recipe({' -> '.join(self.steps)})"


class Builder:
    """Grows a graph from one tensor, drawing each step from what fits the tensor's rank."""

    def __init__(self, data: st.DataObject, max_steps: int, batch: int = 1,
                 rng: np.random.Generator | None = None) -> None:
        self.data, self.max_steps, self.steps = data, max_steps, []
        self.batch, self.rng = batch, rng or np.random.default_rng(0)
        self.inputs: list[KTensor] = []  # extra model inputs (explicit masks), fed with `self.feeds`
        self.keras_h5 = True
        self.keras_ok = True  # False: Keras itself computes this model wrongly (see _mha), no oracle
        self.feeds: list[np.ndarray] = []

    def draw(self, strategy: st.SearchStrategy, label: str | None = None) -> Any:
        return self.data.draw(strategy, label=label)

    def note(self, text: str) -> None:
        self.steps.append(text)

    # ---------------------------------------------------------------- per-rank steps
    def vector(self, x: KTensor) -> KTensor:
        kind = self.draw(st.sampled_from(["dense", "bn", "ln", "dropout", "merge", "shared", "nested", "reshape"]))
        width = x.shape[-1]
        self.note(f"{kind}{x.shape}")
        if kind == "dense":
            return L.Dense(self.draw(st.integers(1, 6)), activation=self._act())(x)
        if kind == "bn":
            return L.BatchNormalization()(x)
        if kind == "ln":
            return L.LayerNormalization()(x)
        if kind == "dropout":
            return L.Dropout(0.3)(x)
        if kind == "merge":
            units = self.draw(st.integers(1, 5))
            a, b = L.Dense(units)(x), L.Dense(units, activation="tanh")(x)
            op = self.draw(st.sampled_from(["add", "concatenate", "multiply", "average", "maximum", "subtract"]))
            self.note(op)
            return {"add": L.Add(), "concatenate": L.Concatenate(), "multiply": L.Multiply(),
                    "average": L.Average(), "maximum": L.Maximum(), "subtract": L.Subtract()}[op]([a, b])
        if kind == "shared":
            shared = L.Dense(width, activation=self._act())
            return L.Add()([shared(x), shared(L.Dense(width)(x))])
        if kind == "nested":
            inner_in = kir.Input(shape=(width,))
            inner = Model(inner_in, L.Dense(self.draw(st.integers(1, 5)), activation=self._act())(
                L.Dense(4)(inner_in)))
            return inner(x)
        # reshape to a short sequence and back through an RNN or Flatten
        if width % 2:
            x = L.Dense(width + 1)(x)
            width += 1
        seq = L.Reshape((2, width // 2))(x)
        return self.sequence(seq, final=True)

    def sequence(self, x: KTensor, final: bool = False) -> KTensor:
        steps = x.shape[1]
        options = ["rnn", "flatten", "global"] if final else [
            "conv1d", "pool1d", "rnn_seq", "td_dense", "bn", "ln", "permute", "states", "rnn", "flatten", "global",
            "bidirectional", "pad1d", "td_model", "dense3d", "to_image", "masked", "attention", "mha", "masking"]
        kind = self.draw(st.sampled_from(options))
        self.note(f"{kind}{x.shape}")
        if kind == "masked":  # an explicit mask= input to a layer that consumes one
            mask = self._mask_input(steps)
            target = self.draw(st.sampled_from(["rnn", "rnn_seq", "bidirectional", "global", "td", "nested"]))
            self.note(target)
            if target == "global":
                return L.GlobalAveragePooling1D()(x, mask=mask)
            if target == "td":  # passes the mask on to what follows
                return L.TimeDistributed(L.Dense(self.draw(st.integers(1, 3))))(x, mask=mask)
            if target == "nested":  # the inner RNN runs masked; its sequence output carries the mask on
                inner = Sequential([kir.Input(shape=x.shape[1:]), self._rnn(return_sequences=True)])
                return inner(x, mask=mask)
            if target == "bidirectional":
                return L.Bidirectional(self._rnn(return_sequences=self.draw(st.booleans())),
                                       merge_mode=self.draw(st.sampled_from(["concat", "sum"])))(x, mask=mask)
            return self._rnn(return_sequences=target == "rnn_seq")(x, mask=mask)
        if kind == "attention":
            self.keras_h5 = False  # Keras 3.15's legacy loader turns score_mode 'dot' into ops.dot and refuses it
            value = x if self.draw(st.booleans()) else L.Dense(x.shape[2])(x)
            masks = [self._mask_input(steps) if self.draw(st.booleans()) else None for _ in range(2)]
            self.note(f"masks{[m is not None for m in masks]}")
            layer = L.Attention(use_scale=self.draw(st.booleans()),
                                score_mode=self.draw(st.sampled_from(["dot", "concat"])))
            kwargs: dict[str, Any] = {"use_causal_mask": True} if self.draw(st.booleans()) else {}
            return layer([x, value], mask=masks if any(m is not None for m in masks) else None, **kwargs)
        if kind == "mha":
            return self._mha(x)
        if kind == "masking":  # masks the all-zero steps (after a relu, say); input-level Masking zeroes steps
            return L.Masking(0.0)(x)
        if kind == "conv1d":
            k = self.draw(st.integers(1, min(3, steps)))
            padding = self.draw(st.sampled_from(["valid", "same", "causal"]))
            dilation = self.draw(st.integers(1, 2)) if (k - 1) * 2 + 1 <= steps else 1
            strides = 1 if dilation > 1 else self.draw(st.integers(1, 2))
            return L.Conv1D(self.draw(st.integers(1, 4)), k, strides=strides, padding=padding, dilation_rate=dilation,
                            activation=self._act())(x)
        if kind == "pool1d":
            cls = self.draw(st.sampled_from([L.MaxPooling1D, L.AveragePooling1D]))
            return cls(pool_size=min(2, steps), padding=self.draw(st.sampled_from(["valid", "same"])))(x)
        if kind == "rnn_seq":
            return self._rnn(return_sequences=True)(x)
        if kind == "bidirectional":
            mode = self.draw(st.sampled_from(["concat", "sum", "mul", "ave"]))
            self.note(mode)
            return L.Bidirectional(self._rnn(return_sequences=self.draw(st.booleans())), merge_mode=mode)(x)
        if kind == "pad1d":
            op = self.draw(st.sampled_from(["zero", "up", "crop"]))
            self.note(op)
            if op == "zero":
                return L.ZeroPadding1D(self.draw(st.integers(1, 2)))(x)
            if op == "up":
                return L.UpSampling1D(2)(x)
            return L.Cropping1D((1, 0))(x) if steps > 1 else x
        if kind == "dense3d":  # Dense on the last axis of a sequence
            return L.Dense(self.draw(st.integers(1, 4)), activation=self._act())(x)
        if kind == "to_image":  # (steps, width) -> (steps, width, 1): single-channel images
            return L.Reshape((steps, x.shape[2], 1))(x)
        if kind == "td_model":  # TimeDistributed over a nested model (a Sequential, or a functional one)
            units = self.draw(st.integers(1, 4))
            if self.draw(st.booleans()):
                inner = Sequential([kir.Input(shape=(x.shape[2],)), L.Dense(3, activation=self._act()), L.Dense(units)])
            else:
                inner_in = kir.Input(shape=(x.shape[2],))
                branches = [L.Dense(units)(inner_in), L.Dense(units, activation="relu")(inner_in)]
                inner = Model(inner_in, L.Add()(branches))
            return L.TimeDistributed(inner)(x)
        if kind == "td_dense":
            return L.TimeDistributed(L.Dense(self.draw(st.integers(1, 4))))(x)
        if kind == "bn":
            return L.BatchNormalization()(x)
        if kind == "ln":
            return L.LayerNormalization()(x)
        if kind == "permute":
            return L.Permute((2, 1))(x)
        if kind == "states":
            cls = self.draw(st.sampled_from([L.LSTM, L.GRU, L.SimpleRNN]))
            units = self.draw(st.integers(1, 4))
            first = cls(units, return_sequences=True, return_state=True)(x)
            return cls(units, return_sequences=self.draw(st.booleans()))(first[0], initial_state=first[1:])
        if kind == "rnn":
            return self._rnn()(x)
        if kind == "flatten":
            return L.Flatten()(x)
        return self.draw(st.sampled_from([L.GlobalAveragePooling1D, L.GlobalMaxPooling1D]))()(x)

    def image(self, x: KTensor) -> KTensor:
        h, w = x.shape[1], x.shape[2]
        kind = self.draw(st.sampled_from(["conv2d", "conv2d", "pool2d", "bn", "flatten", "global", "pad2d",
                                          "mha_axes"]))
        if kind == "mha_axes":  # attention over rows, columns or both of (batch, H, W, C)
            axes = self.draw(st.sampled_from([(1,), (2,), (1, 2), 1, 2]))
            self.note(f"mha_axes{x.shape}{axes}")
            return self._mha(x, attention_axes=axes)
        fmt = self.draw(st.sampled_from(["channels_last", "channels_last", "channels_first"]))
        if fmt == "channels_first":
            h, w = x.shape[2], x.shape[3]
        self.note(f"{kind}{x.shape}{'/cf' if fmt == 'channels_first' else ''}")
        if kind == "pad2d":
            op = self.draw(st.sampled_from(["zero", "up"]))
            self.note(op)
            cls = L.ZeroPadding2D if op == "zero" else L.UpSampling2D
            return cls((1, 2), data_format=fmt)(x)
        if kind == "conv2d":
            kh, kw = self.draw(st.integers(1, min(3, h))), self.draw(st.integers(1, min(3, w)))
            padding = self.draw(st.sampled_from(["valid", "same"]))
            dilated = (kh - 1) * 2 + 1 <= h and (kw - 1) * 2 + 1 <= w and self.draw(st.booleans())
            strides = (1, 1) if dilated else (self.draw(st.integers(1, 2)), self.draw(st.integers(1, 2)))
            return L.Conv2D(self.draw(st.integers(1, 4)), (kh, kw), strides=strides, padding=padding,
                            dilation_rate=2 if dilated else 1, activation=self._act(), data_format=fmt)(x)
        if kind == "pool2d":
            cls = self.draw(st.sampled_from([L.MaxPooling2D, L.AveragePooling2D]))
            return cls(pool_size=(min(2, h), min(2, w)), padding=self.draw(st.sampled_from(["valid", "same"])),
                       data_format=fmt)(x)
        if kind == "bn":
            return L.BatchNormalization(axis=1 if fmt == "channels_first" else -1)(x)
        if kind == "flatten":
            return L.Flatten(data_format=fmt)(x)
        return self.draw(st.sampled_from([L.GlobalAveragePooling2D, L.GlobalMaxPooling2D]))(data_format=fmt)(x)

    # ---------------------------------------------------------------- helpers
    def _act(self) -> str | None:
        return self.draw(st.sampled_from([None, "relu", "tanh", "sigmoid", "softmax", "elu"]))

    def _rnn(self, return_sequences: bool = False) -> Any:
        cls = self.draw(st.sampled_from([L.LSTM, L.GRU, L.SimpleRNN]))
        self.note(cls.__name__)
        kwargs: dict[str, Any] = {"return_sequences": return_sequences, "go_backwards": self.draw(st.booleans())}
        if cls is L.GRU:
            kwargs["reset_after"] = self.draw(st.booleans())
        if self.draw(st.integers(0, 3)) == 0:  # training-only rates: inference must not see them
            kwargs["dropout"], kwargs["recurrent_dropout"] = self.draw(st.sampled_from([0.0, 0.25])), 0.25
        if cls is not L.SimpleRNN:
            kwargs["use_cudnn"] = self.draw(st.sampled_from(["auto", False]))
        return cls(self.draw(st.integers(1, 4)), **kwargs)

    def _mask_input(self, shape: int | tuple[int, int]) -> KTensor:
        """A bool (batch, steps) model input fed with a random mask whose step 0 is real (or a
        (batch, T, S) attention mask, whose rows may be fully masked)."""
        shape = (shape,) if isinstance(shape, int) else shape
        mask = kir.Input(shape=shape, dtype="bool")
        feed = self.rng.random((self.batch, *shape)) < 0.7
        if len(shape) == 1:
            feed[:, 0] = True
        self.inputs.append(mask)
        self.feeds.append(feed)
        return mask

    def _mha(self, x: KTensor, attention_axes: Any = None) -> KTensor:
        """MultiHeadAttention on `x` (self or cross attention), with explicit masks on sequences."""
        heads, key_dim = self.draw(st.integers(1, 2)), self.draw(st.integers(1, 3))
        if key_dim == 1 and heads > 1:  # Keras 3.15 on TF: keras.ops.add turns the (heads, 1) projection bias
            self.keras_ok = False       # into a bias_add over the steps when heads == steps (docs/bad_inputs.md)
        out_dim = self.draw(st.sampled_from([None, 2]))
        layer = L.MultiHeadAttention(heads, key_dim, output_shape=out_dim, attention_axes=attention_axes,
                                     use_bias=self.draw(st.booleans()))
        value = x if self.draw(st.booleans()) else L.Dense(self.draw(st.integers(1, 3)))(x)
        key = L.Dense(self.draw(st.integers(1, 3)))(x) if self.draw(st.booleans()) else None
        kwargs: dict[str, Any] = {}
        if len(x.shape) == 3:
            steps = x.shape[1]
            for name in ("value_mask", "key_mask", "attention_mask", "use_causal_mask"):
                if self.draw(st.integers(0, 2)) == 0:
                    kwargs[name] = True if name == "use_causal_mask" else self._mask_input(
                        (steps, steps) if name == "attention_mask" else steps)
        self.note(f"mha{heads}x{key_dim}{'+key' if key is not None else ''}{sorted(kwargs)}")
        return layer(x, value, key, **kwargs)

    def grow(self, x: KTensor) -> list[KTensor]:
        """The final tensor, and sometimes an intermediate one as a second output."""
        extra = []
        for _ in range(self.draw(st.integers(1, self.max_steps))):
            rank = len(x.shape)
            x = self.vector(x) if rank == 2 else self.sequence(x) if rank == 3 else self.image(x)
            if not extra and self.draw(st.integers(0, 5)) == 0:
                self.note("second-output")
                extra.append(x)
        while len(x.shape) > 2:  # end on a vector, as most models do
            x = self.sequence(x, final=True) if len(x.shape) == 3 else L.Flatten()(x)
        return [x, *(e for e in extra if e is not x)]


def _randomize(model: Model, rng: np.random.Generator) -> None:
    """Random weights everywhere, positive variances, so that no layer is a near-identity."""
    for layer in model.layers:
        for lay in [layer, *layer.sublayers()]:
            for name in lay.weight_names():
                old = lay.get_weight(name)
                if "variance" in name:
                    new = rng.uniform(0.5, 1.5, old.shape)
                else:
                    new = rng.normal(0.0, 0.5, old.shape)
                lay.assign_weight(name, new.astype(old.dtype))


@st.composite
def model_recipe(draw: Any, max_steps: int = 4, keras_every: int = 0) -> Recipe:
    """A random model; about one in `keras_every` (0: none) is marked for the Keras oracle."""
    data = draw(st.data())
    kind = data.draw(st.sampled_from(["vector", "sequence", "image", "tokens"]), "input")
    batch = data.draw(st.integers(1, 3), "batch")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), "seed"))
    b = Builder(data, max_steps, batch, rng)
    if kind == "vector":
        shape: tuple = (b.draw(st.integers(1, 6)),)
    elif kind == "sequence":
        shape = (b.draw(st.integers(1, 6)), b.draw(st.integers(1, 4)))
    elif kind == "image":
        shape = (b.draw(st.integers(1, 6)), b.draw(st.integers(1, 6)), b.draw(st.integers(1, 3)))
    else:
        shape = (b.draw(st.integers(1, 6)),)
    b.note(f"{kind}{shape}")
    if kind == "tokens":
        vocab = b.draw(st.integers(2, 12))
        x_in = kir.Input(shape=shape, dtype="int32")
        mask_zero = b.draw(st.booleans())
        if mask_zero:
            b.note("mask_zero")
        x = L.Embedding(vocab, b.draw(st.integers(1, 4)), mask_zero=mask_zero)(x_in)
        feed = rng.integers(0, vocab, (batch, *shape)).astype("int32")
        feed[:, 0] = rng.integers(1, vocab, batch)  # no fully masked sequence (a masked mean is 0/0)
    else:
        x_in = kir.Input(shape=shape)
        x = x_in
        feed = rng.normal(0.0, 1.0, (batch, *shape)).astype("float32")
        if kind == "sequence" and b.draw(st.integers(0, 3)) == 0:  # Masking: padded steps (never step 0)
            b.note("masking")
            feed[:, 1:][rng.random((batch, shape[0] - 1)) < 0.4] = 0.0
            x = L.Masking(0.0)(x)
    outs = b.grow(x)
    inputs = [x_in, *b.inputs]
    model = Model(inputs if len(inputs) > 1 else x_in, outs[0] if len(outs) == 1 else outs)
    _randomize(model, rng)
    oracle = keras_every > 0 and data.draw(st.integers(0, keras_every - 1), "keras oracle") == 0 and b.keras_ok
    return Recipe(model, [feed, *b.feeds], b.steps, oracle, b.keras_h5)
