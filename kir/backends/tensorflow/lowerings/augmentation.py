"""The image augmentation ops while training: Keras 3's transforms (its TensorFlow backend's
formulas: per-image draws, ImageProjectiveTransformV3 for the affine ones) with stateless draws
seeded like Dropout's (layer seed + step counter); identities otherwise. The draws are not
bitwise Keras' (its SeedGenerator is a stateful variable), their distributions are."""

from __future__ import annotations

import math

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS


def training_only(op: str):
    """Register `fn(ctx, attrs, images_nhwc, seed)` for `op`, run only while training (channels_first
    images are moved to NHWC and back); the op is the identity otherwise."""

    def register(fn):
        @LOWERINGS.register(op)
        def lowering(ctx, attrs, inputs, params):
            x = tf.cast(inputs[0], "float32")  # float32 inside, output in the compute dtype
            if not ctx.training:
                return [tf.cast(x, ctx.compute_dtype)]
            first = attrs.get("data_format") == "channels_first"
            images = tf.transpose(x, [0, 2, 3, 1]) if first else x
            y = fn(ctx, attrs, images, ctx.seed(attrs.get("seed")))
            return [tf.cast(tf.transpose(y, [0, 3, 1, 2]) if first else y, ctx.compute_dtype)]

        return fn

    return register


def _uniform(seed, k: int, shape, low: float, high: float):
    """Draw `k` of a layer's step: uniform in [low, high)."""
    return tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(seed, k),
                                       minval=low, maxval=high, dtype="float32")


def _affine(attrs, images, rows):
    """ImageProjectiveTransformV3 of NHWC images with one (8,) output->input map per image."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=tf.stack(rows, axis=1), output_shape=tf.shape(images)[1:3],
        fill_value=float(attrs.get("fill_value", 0.0)), interpolation=attrs.get("interpolation", "bilinear").upper(),
        fill_mode=attrs.get("fill_mode", "reflect").upper())


def _sizes(images):
    shape = tf.shape(images)
    return shape[0], tf.cast(shape[1], "float32"), tf.cast(shape[2], "float32")


@training_only("RandomFlip")
def random_flip(ctx, attrs, images, seed):
    """One draw per image: flipped (both axes for horizontal_and_vertical, as Keras) when u <= 0.5."""
    flips = _uniform(seed, 0, [tf.shape(images)[0], 1, 1, 1], 0.0, 1.0) <= 0.5
    mode = attrs.get("mode", "horizontal_and_vertical")
    if mode in ("horizontal", "horizontal_and_vertical"):
        images = tf.where(flips, tf.reverse(images, [2]), images)
    if mode in ("vertical", "horizontal_and_vertical"):
        images = tf.where(flips, tf.reverse(images, [1]), images)
    return images


@training_only("RandomRotation")
def random_rotation(ctx, attrs, images, seed):
    """A rotation by factor * 360 degrees about the image centre, factor ~ U(lower, upper)."""
    batch, height, width = _sizes(images)
    low, high = attrs["factor"]
    angle = _uniform(seed, 0, [batch], low * 360.0, high * 360.0) * (math.pi / 180.0)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = tf.cos(angle), tf.sin(angle)
    zeros = tf.zeros_like(angle)
    return _affine(attrs, images, [cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos,
                                   zeros, zeros])


@training_only("RandomZoom")
def random_zoom(ctx, attrs, images, seed):
    """Zoom by 1 + U(height range) (and 1 + U(width range), else the same) about the centre."""
    batch, height, width = _sizes(images)
    low, high = attrs["height_factor_range"]
    zoom_y = _uniform(seed, 0, [batch], 1.0 + low, 1.0 + high)
    if attrs.get("width_factor_range") is None:
        zoom_x = zoom_y
    else:
        low, high = attrs["width_factor_range"]
        zoom_x = _uniform(seed, 1, [batch], 1.0 + low, 1.0 + high)
    zeros = tf.zeros_like(zoom_y)
    return _affine(attrs, images, [zoom_x, zeros, (width - 1) / 2 * (1 - zoom_x), zeros, zoom_y,
                                   (height - 1) / 2 * (1 - zoom_y), zeros, zeros])


@training_only("RandomTranslation")
def random_translation(ctx, attrs, images, seed):
    """A shift by U(height range) * height rows and U(width range) * width columns."""
    batch, height, width = _sizes(images)
    low, high = attrs["height_factor_range"]
    dy = _uniform(seed, 0, [batch], low, high) * height
    low, high = attrs["width_factor_range"]
    dx = _uniform(seed, 1, [batch], low, high) * width
    ones, zeros = tf.ones_like(dx), tf.zeros_like(dx)
    return _affine(attrs, images, [ones, zeros, -dx, zeros, ones, -dy, zeros, zeros])


@training_only("RandomContrast")
def random_contrast(ctx, attrs, images, seed):
    """(x - mean over rows and columns) * c + mean, c ~ U(1 - lower, 1 + upper), clipped to value_range."""
    low, high = attrs["factor"]
    c = _uniform(seed, 0, [tf.shape(images)[0], 1, 1, 1], 1.0 - low, 1.0 + high)
    mean = tf.reduce_mean(tf.reduce_mean(images, axis=1, keepdims=True), axis=2, keepdims=True)
    lo, hi = attrs.get("value_range", [0, 255])
    return tf.clip_by_value((images - mean) * c + mean, float(lo), float(hi))
