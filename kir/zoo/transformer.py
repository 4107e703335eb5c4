"""A transformer encoder classifier (Keras' text_classification_with_transformer example, GELU
feed-forward), written once for `kir` and `keras`: token + position embedding (a subclassed layer
whose call adds `Embedding(arange(maxlen))`), `blocks` encoder blocks (MultiHeadAttention +
residual + LayerNormalization, GELU feed-forward + residual + LayerNormalization), average
pooling and a softmax head. With the same weights both libraries compute the same function."""

from __future__ import annotations

from typing import Any

from kir.zoo.library import library, namer


def position_embedding_class(lib: Any) -> type:
    """`TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)` for `lib` (its Layer base and ops)."""
    import kir

    lib = library(lib)
    ops = kir.backend if lib is kir else lib.ops

    class TokenAndPositionEmbedding(lib.layers.Layer):
        """Token embedding plus a learned embedding of each position 0..maxlen-1."""

        def __init__(self, maxlen: int, vocab_size: int, embed_dim: int, **kwargs: Any):
            super().__init__(**kwargs)
            self.maxlen = maxlen
            self.token_emb = lib.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = lib.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x: Any) -> Any:
            return self.token_emb(x) + self.pos_emb(ops.arange(0, self.maxlen))

    return TokenAndPositionEmbedding


def encoder_block(x: Any, d_model: int, heads: int, ff_dim: int, dropout: float = 0.1, *, lib: Any = None,
                  name: str | None = None) -> Any:
    """One post-norm encoder block on `x` (batch, steps, d_model): self-attention, then the feed-forward net."""
    lib = library(lib)
    L = lib.layers

    def n(part: str) -> str | None:
        return f"{name}_{part}" if name else None

    attn = L.MultiHeadAttention(heads, key_dim=d_model // heads, dropout=dropout, name=n("mha"))(x, x)
    attn = L.Dropout(dropout, name=n("attn_dropout"))(attn)
    x = L.LayerNormalization(epsilon=1e-6, name=n("ln1"))(L.Add(name=n("residual1"))([x, attn]))
    ff = L.Dense(ff_dim, activation="gelu", name=n("ff1"))(x)
    ff = L.Dropout(dropout, name=n("ff_dropout"))(L.Dense(d_model, name=n("ff2"))(ff))
    return L.LayerNormalization(epsilon=1e-6, name=n("ln2"))(L.Add(name=n("residual2"))([x, ff]))


def transformer_classifier(maxlen: int = 128, vocab: int = 2000, d_model: int = 128, heads: int = 4,
                           ff_dim: int = 256, blocks: int = 2, classes: int = 2, dropout: float = 0.1, *,
                           lib: Any = None, names: bool = False) -> Any:
    """int token ids (batch, maxlen) -> class probabilities (batch, classes)."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    tokens = lib.Input(shape=(maxlen,), dtype="int32", name=n("tokens"))
    x = position_embedding_class(lib)(maxlen, vocab, d_model, name=n("embedding"))(tokens)
    for b in range(blocks):
        x = encoder_block(x, d_model, heads, ff_dim, dropout, lib=lib, name=f"block{b + 1}" if names else None)
    x = L.GlobalAveragePooling1D(name=n("pool"))(x)
    x = L.Dropout(dropout, name=n("head_dropout"))(x)
    out = L.Dense(classes, activation="softmax", name=n("predictions"))(x)
    return lib.models.Model(inputs=tokens, outputs=out, name=n("transformer_classifier"))
