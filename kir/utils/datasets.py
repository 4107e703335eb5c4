"""Keras' dataset utilities, returning `tf.data.Dataset`s as Keras' do (TensorFlow is kir's
training engine, so its input pipelines feed `fit` directly): windows over a time series, and
labelled images or texts from a directory with one sub-directory per class."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kir.errors import ConfigError

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_EXTENSIONS = (".txt",)


def timeseries_dataset_from_array(data: Any, targets: Any, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128, shuffle: bool = False,
                                  seed: int | None = None, start_index: int | None = None,
                                  end_index: int | None = None) -> Any:
    """Sliding windows over `data` (Keras' semantics): window i holds rows start + i * sequence_stride
    + [0, sampling_rate, ...] (sequence_length of them) of data[start_index:end_index], and its target
    is targets[start_index:][start + i * sequence_stride]; batches of `batch_size` (None: unbatched)."""
    import tensorflow as tf

    for name, value in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                        ("sampling_rate", sampling_rate)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"timeseries_dataset_from_array: {name} must be a positive int, got {value!r}")
    n = len(data)
    start = 0 if start_index is None else int(start_index)
    end = n if end_index is None else int(end_index)
    if not 0 <= start < n:
        raise ConfigError(f"timeseries_dataset_from_array: start_index must be in [0, {n}), got {start_index}")
    if not start < end <= n:
        raise ConfigError(f"timeseries_dataset_from_array: end_index must be in ({start}, {n}], got {end_index}")
    if targets is not None and len(targets) != n:
        raise ConfigError(f"timeseries_dataset_from_array: data has {n} rows but targets has {len(targets)}; "
                          f"they must be equally long")
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        count = min(count, len(targets))
    if count <= 0:
        raise ConfigError(f"timeseries_dataset_from_array: no window of sequence_length={sequence_length} and "
                          f"sampling_rate={sampling_rate} fits in {end - start} rows")
    positions = np.arange(0, count, sequence_stride)
    if shuffle:
        np.random.default_rng(seed).shuffle(positions)
    window = positions[:, None] + np.arange(sequence_length) * sampling_rate
    rows = tf.constant(np.asarray(data)[start:end])
    ds = tf.data.Dataset.from_tensor_slices(window).map(lambda i: tf.gather(rows, i))
    if targets is not None:
        labels = tf.constant(np.asarray(targets)[start:end])
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.from_tensor_slices(positions).map(
            lambda i: tf.gather(labels, i))))
    if shuffle:
        ds = ds.shuffle(buffer_size=(batch_size or 128) * 8, seed=seed)
    if batch_size is not None:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def _index_directory(directory: Any, labels: Any, class_names: Any, extensions: tuple[str, ...], shuffle: bool,
                     seed: int | None, follow_links: bool, what: str) -> tuple[list[str], list[int], list[str]]:
    """Keras' `index_directory`: files (sorted per class) and their class ids; shuffled by seed."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ConfigError(f"{what}: directory '{directory}' does not exist")
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ConfigError(f"{what}: labels must be 'inferred', None or a list of ints, got {labels!r}")
    subdirs = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    if labels == "inferred":
        if class_names is not None:
            missing = sorted(set(class_names) - set(subdirs))
            if missing or len(class_names) != len(subdirs):
                raise ConfigError(f"{what}: class_names {list(class_names)} must match the sub-directories of "
                                  f"'{directory}': {subdirs}")
            subdirs = list(class_names)
        folders = [(os.path.join(directory, d), i) for i, d in enumerate(subdirs)]
    else:
        subdirs = []
        folders = [(directory, 0)]
    paths: list[str] = []
    ids: list[int] = []
    for folder, label in folders:
        found = []
        for root, _, files in os.walk(folder, followlinks=follow_links):
            found.extend(os.path.join(root, f) for f in files if f.lower().endswith(extensions))
        found.sort()
        paths.extend(found)
        ids.extend([label] * len(found))
    if isinstance(labels, (list, tuple)):
        if len(labels) != len(paths):
            raise ConfigError(f"{what}: got {len(labels)} labels for {len(paths)} files in '{directory}'")
        ids = [int(v) for v in labels]
    if shuffle:
        # Keras' order: RandomState(seed).shuffle over the sorted files (a random seed when none is given)
        order = np.random.RandomState(np.random.randint(1e6) if seed is None else seed).permutation(len(paths))
        paths, ids = [paths[i] for i in order], [ids[i] for i in order]
    return paths, ids, subdirs


def _split(paths: list[str], ids: list[int], validation_split: float | None, subset: str | None,
           shuffle: bool, seed: int | None, what: str) -> tuple[list[str], list[int]]:
    if subset is not None and not validation_split:
        raise ConfigError(f"{what}: subset='{subset}' needs validation_split")
    if not validation_split:
        return paths, ids
    if not 0 < validation_split < 1:
        raise ConfigError(f"{what}: validation_split must be in (0, 1), got {validation_split}")
    if subset not in ("training", "validation"):
        raise ConfigError(f"{what}: with validation_split, subset must be 'training' or 'validation', got {subset!r}")
    if shuffle and seed is None:
        raise ConfigError(f"{what}: with validation_split and shuffle=True, pass a seed so that the training "
                          f"and validation subsets do not overlap")
    cut = len(paths) - int(validation_split * len(paths))
    return (paths[:cut], ids[:cut]) if subset == "training" else (paths[cut:], ids[cut:])


def _labelled(ds: Any, ids: list[int], label_mode: str | None, classes: int, what: str) -> Any:
    import tensorflow as tf

    if label_mode is None:
        return ds
    if label_mode == "int":
        labels = tf.data.Dataset.from_tensor_slices(np.asarray(ids, "int32"))
    elif label_mode == "categorical":
        labels = tf.data.Dataset.from_tensor_slices(np.eye(classes, dtype="float32")[np.asarray(ids, int)])
    elif label_mode == "binary":
        if classes != 2:
            raise ConfigError(f"{what}: label_mode='binary' needs exactly 2 classes, found {classes}")
        labels = tf.data.Dataset.from_tensor_slices(np.asarray(ids, "float32")[:, None])
    else:
        raise ConfigError(f"{what}: label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    return tf.data.Dataset.zip((ds, labels))


def _finish(ds: Any, batch_size: int | None, shuffle: bool, seed: int | None, class_names: list[str],
            paths: list[str]) -> Any:
    import tensorflow as tf

    if shuffle:
        ds = ds.shuffle(buffer_size=(batch_size or 32) * 8, seed=seed)
    if batch_size is not None:
        ds = ds.batch(batch_size)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.class_names = class_names
    ds.file_paths = paths
    return ds


def image_dataset_from_directory(directory: Any, labels: Any = "inferred", label_mode: str | None = "int",
                                 class_names: Any = None, color_mode: str = "rgb", batch_size: int | None = 32,
                                 image_size: tuple[int, int] = (256, 256), shuffle: bool = True,
                                 seed: int | None = None, validation_split: float | None = None,
                                 subset: str | None = None, interpolation: str = "bilinear",
                                 follow_links: bool = False, crop_to_aspect_ratio: bool = False,
                                 pad_to_aspect_ratio: bool = False, data_format: str | None = None,
                                 verbose: bool = True) -> Any:
    """Images under `directory/<class>/...` as a dataset of (float32 images (batch, h, w, channels),
    labels), with `class_names` (Keras' function; channels_last)."""
    import tensorflow as tf

    what = "image_dataset_from_directory"
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ConfigError(f"{what}: color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}")
    if data_format not in (None, "channels_last"):
        raise ConfigError(f"{what}: kir builds channels_last images; got data_format={data_format!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ConfigError(f"{what}: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be True")
    paths, ids, names = _index_directory(directory, labels, class_names, IMAGE_EXTENSIONS, shuffle, seed,
                                         follow_links, what)
    paths, ids = _split(paths, ids, validation_split, subset, shuffle, seed, what)
    if verbose:
        print(f"Found {len(paths)} files belonging to {max(len(names), 1)} classes.")
    size = tuple(int(s) for s in image_size)

    def load(path: Any) -> Any:
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        if pad_to_aspect_ratio:
            image = tf.image.resize_with_pad(image, size[0], size[1], method=interpolation)
        else:
            if crop_to_aspect_ratio:  # the largest centred box of the target aspect ratio
                h, w = tf.shape(image)[0], tf.shape(image)[1]
                ch = tf.minimum(h, tf.cast(tf.round(tf.cast(w, "float32") * size[0] / size[1]), "int32"))
                cw = tf.minimum(w, tf.cast(tf.round(tf.cast(h, "float32") * size[1] / size[0]), "int32"))
                image = tf.image.crop_to_bounding_box(image, (h - ch) // 2, (w - cw) // 2, ch, cw)
            image = tf.image.resize(image, size, method=interpolation)
        image.set_shape((size[0], size[1], channels))
        return image

    ds = tf.data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = _labelled(ds, ids, label_mode if labels is not None else None, len(names), what)
    return _finish(ds, batch_size, shuffle, seed, names, paths)


def text_dataset_from_directory(directory: Any, labels: Any = "inferred", label_mode: str | None = "int",
                                class_names: Any = None, batch_size: int | None = 32, max_length: int | None = None,
                                shuffle: bool = True, seed: int | None = None, validation_split: float | None = None,
                                subset: str | None = None, follow_links: bool = False,
                                verbose: bool = True) -> Any:
    """Texts under `directory/<class>/*.txt` as a dataset of (string tensors, labels), with
    `class_names`; `max_length` truncates each text to that many bytes (Keras' function)."""
    import tensorflow as tf

    what = "text_dataset_from_directory"
    paths, ids, names = _index_directory(directory, labels, class_names, TEXT_EXTENSIONS, shuffle, seed,
                                         follow_links, what)
    paths, ids = _split(paths, ids, validation_split, subset, shuffle, seed, what)
    if verbose:
        print(f"Found {len(paths)} files belonging to {max(len(names), 1)} classes.")

    def load(path: Any) -> Any:
        text = tf.io.read_file(path)
        return text if max_length is None else tf.strings.substr(text, 0, max_length)

    ds = tf.data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = _labelled(ds, ids, label_mode if labels is not None else None, len(names), what)
    return _finish(ds, batch_size, shuffle, seed, names, paths)
