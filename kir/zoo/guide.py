"""The models of the Keras getting-started guide (keras-quickstart.zh.md), written once for `kir` and `keras`.

Every factory takes the guide's sizes as defaults (tests shrink them) and two keywords:

- `lib`: the library that builds the model, `kir` (default) or `keras`, as a module or its name;
- `names`: False (default) names only the layers the guide names (`main_input`, ...) and leaves the
  rest to the library's automatic names, as the guide's code does; True names every layer, input and
  model, so that the same model built in kir and in Keras can exchange weights layer by layer.

Layers are created and called in the guide's order (so a seeded kir builds the guide's initial
weights), and every call builds fresh layers: two calls give two independent models. Where the guide
keeps parts of a model for later (the vision model, the question encoder), `*_parts` returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kir.zoo.library import library, namer


def sequential_mlp(input_dim: int = 784, hidden: int = 32, classes: int = 10, *, lib: Any = None,
                   names: bool = False) -> Any:
    """`Sequential([Dense(32, input_shape=(784,)), Activation('relu'), Dense(10), Activation('softmax')])`."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    model = lib.models.Sequential(name=n("seq_mlp"))
    model.add(lib.Input(shape=(input_dim,), name=n("seq_in")))
    model.add(L.Dense(hidden, name=n("dense_a")))
    model.add(L.Activation("relu", name=n("relu_a")))
    model.add(L.Dense(classes, name=n("dense_b")))
    model.add(L.Activation("softmax", name=n("softmax_b")))
    return model


def sequential_add(input_dim: int = 784, hidden: int = 32, *, lib: Any = None, names: bool = False) -> Any:
    """`model = Sequential(); model.add(Dense(32, input_dim=784)); model.add(Activation('relu'))`."""
    lib, n = library(lib), namer(names)
    model = lib.models.Sequential(name=n("sequential_add"))
    model.add(lib.Input(shape=(input_dim,), name=n("input")))
    model.add(lib.layers.Dense(hidden, name=n("dense")))
    model.add(lib.layers.Activation("relu", name=n("relu")))
    return model


def _classifier(input_dim: int, hidden: int, classes: int, activation: str, batchnorm: bool, dropout: float,
                lib: Any, names: bool, name: str) -> Any:
    """Dense `hidden` relu, optionally BatchNormalization and Dropout, then Dense `classes` `activation`."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    model = lib.models.Sequential(name=n(name))
    model.add(lib.Input(shape=(input_dim,), name=n("input")))
    model.add(L.Dense(hidden, activation="relu", name=n("hidden")))
    if batchnorm:
        model.add(L.BatchNormalization(name=n("batchnorm")))
    if dropout:
        model.add(L.Dropout(dropout, name=n("dropout")))
    model.add(L.Dense(classes, activation=activation, name=n("output")))
    return model


def mlp_binary(input_dim: int = 100, hidden: int = 32, *, lib: Any = None, names: bool = False) -> Any:
    """The training section's binary classifier: Dense 32 relu, Dense 1 sigmoid."""
    return _classifier(input_dim, hidden, 1, "sigmoid", False, 0.0, lib, names, "mlp_binary")


def mlp_categorical(input_dim: int = 100, hidden: int = 32, classes: int = 10, *, batchnorm: bool = False,
                    dropout: float = 0.0, lib: Any = None, names: bool = False) -> Any:
    """The training section's 10-class classifier: Dense 32 relu, Dense 10 softmax (with `batchnorm` and
    `dropout`, a BatchNormalization and a Dropout between the two)."""
    return _classifier(input_dim, hidden, classes, "softmax", batchnorm, dropout, lib, names, "mlp_categorical")


def functional_mlp(input_dim: int = 784, hidden: int = 64, classes: int = 10, *, lib: Any = None,
                   names: bool = False) -> Any:
    """The functional API's first example: Input, Dense 64 relu twice, Dense 10 softmax."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    inputs = lib.Input(shape=(input_dim,), name=n("input"))
    x = L.Dense(hidden, activation="relu", name=n("dense_1"))(inputs)
    x = L.Dense(hidden, activation="relu", name=n("dense_2"))(x)
    predictions = L.Dense(classes, activation="softmax", name=n("predictions"))(x)
    return lib.models.Model(inputs=inputs, outputs=predictions, name=n("mlp"))


def time_distributed_mlp(steps: int = 20, input_dim: int = 784, hidden: int = 64, classes: int = 10, *,
                         lib: Any = None, names: bool = False) -> Any:
    """"Models are callable": the functional MLP called on a tensor, then applied to every step of a
    sequence with TimeDistributed."""
    lib, n = library(lib), namer(names)
    model = functional_mlp(input_dim, hidden, classes, lib=lib, names=names)
    model(lib.Input(shape=(input_dim,), name=n("x")))
    input_sequences = lib.Input(shape=(steps, input_dim), name=n("input_sequences"))
    processed_sequences = lib.layers.TimeDistributed(model, name=n("td_mlp"))(input_sequences)
    return lib.models.Model(inputs=input_sequences, outputs=processed_sequences, name=n("video_mlp"))


def multi_io(seq_len: int = 100, vocab: int = 10000, embed: int = 512, lstm_units: int = 32, aux_dim: int = 5,
             hidden: int = 64, *, lib: Any = None, names: bool = False) -> Any:
    """The headline model: words (Embedding + LSTM) and auxiliary features in, main and auxiliary outputs."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    main_input = lib.Input(shape=(seq_len,), dtype="int32", name="main_input")
    x = L.Embedding(output_dim=embed, input_dim=vocab, name=n("embedding"))(main_input)
    lstm_out = L.LSTM(lstm_units, name=n("lstm"))(x)
    auxiliary_output = L.Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    auxiliary_input = lib.Input(shape=(aux_dim,), name="aux_input")
    x = L.concatenate([lstm_out, auxiliary_input], name=n("merge"))
    for i in (1, 2, 3):
        x = L.Dense(hidden, activation="relu", name=n(f"dense_{i}"))(x)
    main_output = L.Dense(1, activation="sigmoid", name="main_output")(x)
    return lib.models.Model(inputs=[main_input, auxiliary_input], outputs=[main_output, auxiliary_output],
                            name=n("headline"))


def shared_lstm(timesteps: int = 280, features: int = 256, units: int = 64, *, lib: Any = None,
                names: bool = False) -> Any:
    """Two tweets encoded by one shared LSTM, concatenated, then a logistic regression."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    tweet_a = lib.Input(shape=(timesteps, features), name=n("tweet_a"))
    tweet_b = lib.Input(shape=(timesteps, features), name=n("tweet_b"))
    shared = L.LSTM(units, name=n("lstm"))
    merged_vector = L.concatenate([shared(tweet_a), shared(tweet_b)], axis=-1, name=n("merged"))
    predictions = L.Dense(1, activation="sigmoid", name=n("same_author"))(merged_vector)
    return lib.models.Model(inputs=[tweet_a, tweet_b], outputs=predictions, name=n("shared_lstm"))


def inception(size: int = 256, filters: int = 64, *, lib: Any = None, names: bool = False) -> Any:
    """The Inception block: three towers, concatenated on axis=1 as the guide writes it (image rows on
    channels-last maps)."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    img = lib.Input(shape=(size, size, 3), name=n("input_img"))
    t1 = L.Conv2D(filters, (1, 1), padding="same", activation="relu", name=n("tower_1a"))(img)
    t1 = L.Conv2D(filters, (3, 3), padding="same", activation="relu", name=n("tower_1b"))(t1)
    t2 = L.Conv2D(filters, (1, 1), padding="same", activation="relu", name=n("tower_2a"))(img)
    t2 = L.Conv2D(filters, (5, 5), padding="same", activation="relu", name=n("tower_2b"))(t2)
    t3 = L.MaxPooling2D((3, 3), strides=(1, 1), padding="same", name=n("tower_3a"))(img)
    t3 = L.Conv2D(filters, (1, 1), padding="same", activation="relu", name=n("tower_3b"))(t3)
    out = L.concatenate([t1, t2, t3], axis=1, name=n("mixed"))
    return lib.models.Model(inputs=img, outputs=out, name=n("inception"))


def residual(size: int = 256, *, lib: Any = None, names: bool = False) -> Any:
    """The residual connection: `add([x, Conv2D(3, (3, 3), padding='same')(x)])`."""
    lib, n = library(lib), namer(names)
    x = lib.Input(shape=(size, size, 3), name=n("x"))
    y = lib.layers.Conv2D(3, (3, 3), padding="same", name=n("conv"))(x)
    z = lib.layers.add([x, y], name=n("residual_add"))
    return lib.models.Model(inputs=x, outputs=z, name=n("residual"))


@dataclass
class SharedVision:
    vision_model: Any
    classification_model: Any


def shared_vision_parts(size: int = 27, filters: int = 64, *, lib: Any = None, names: bool = False) -> SharedVision:
    """The digit-pair model and the vision Model it shares (weights and all) between its two inputs."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    digit_input = lib.Input(shape=(size, size, 1), name=n("digit_input"))
    x = L.Conv2D(filters, (3, 3), name=n("vconv1"))(digit_input)
    x = L.Conv2D(filters, (3, 3), name=n("vconv2"))(x)
    x = L.MaxPooling2D((2, 2), name=n("vpool"))(x)
    vision_model = lib.models.Model(digit_input, L.Flatten(name=n("vflatten"))(x), name=n("vision_model"))
    digit_a = lib.Input(shape=(size, size, 1), name=n("digit_a"))
    digit_b = lib.Input(shape=(size, size, 1), name=n("digit_b"))
    concatenated = L.concatenate([vision_model(digit_a), vision_model(digit_b)], name=n("merge"))
    out = L.Dense(1, activation="sigmoid", name=n("same_digit"))(concatenated)
    return SharedVision(vision_model, lib.models.Model([digit_a, digit_b], out, name=n("shared_vision")))


def shared_vision(*args: Any, **kwargs: Any) -> Any:
    """The digit-pair classification model of `shared_vision_parts` (same arguments)."""
    return shared_vision_parts(*args, **kwargs).classification_model


def _vision_model(lib: Any, image: int, filters: tuple[int, int, int], n: Any) -> Any:
    """The VQA vision encoder: three blocks of 3x3 relu convolutions (2, 2 and 3 of them, the first
    'same'-padded) each ending in 2x2 max pooling, then Flatten."""
    L = lib.layers
    model = lib.models.Sequential(name=n("vision_model"))
    model.add(lib.Input(shape=(image, image, 3), name=n("vision_in")))
    for block, (width, convs) in enumerate(zip(filters, (2, 2, 3)), start=1):
        for i in range(convs):
            model.add(L.Conv2D(width, (3, 3), activation="relu", padding="same" if i == 0 else "valid",
                               name=n(f"c{block}{'abc'[i]}")))
        model.add(L.MaxPooling2D((2, 2), name=n(f"p{block}")))
    model.add(L.Flatten(name=n("flat")))
    return model


@dataclass
class VQA:
    vision_model: Any
    vqa_model: Any
    question_input: Any
    encoded_question: Any


def vqa_parts(image: int = 224, seq_len: int = 100, vocab: int = 10000, embed: int = 256, lstm_units: int = 256,
              answers: int = 1000, filters: tuple[int, int, int] = (64, 128, 256), *, lib: Any = None,
              names: bool = False) -> VQA:
    """Visual question answering: a Sequential vision model and an Embedding + LSTM question encoder,
    concatenated, softmax over the answers; with the parts the video QA model reuses."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    vision_model = _vision_model(lib, image, filters, n)
    image_input = lib.Input(shape=(image, image, 3), name=n("image_input"))
    encoded_image = vision_model(image_input)
    question_input = lib.Input(shape=(seq_len,), dtype="int32", name=n("question_input"))
    embedded_question = L.Embedding(input_dim=vocab, output_dim=embed, name=n("q_embedding"))(question_input)
    encoded_question = L.LSTM(lstm_units, name=n("q_lstm"))(embedded_question)
    merged = L.concatenate([encoded_question, encoded_image], name=n("merged"))
    output = L.Dense(answers, activation="softmax", name=n("answer"))(merged)
    vqa_model = lib.models.Model(inputs=[image_input, question_input], outputs=output, name=n("vqa"))
    return VQA(vision_model, vqa_model, question_input, encoded_question)


def vqa(*args: Any, **kwargs: Any) -> Any:
    """The VQA model of `vqa_parts` (same arguments)."""
    return vqa_parts(*args, **kwargs).vqa_model


@dataclass
class VideoQA:
    vqa: VQA
    question_encoder: Any
    video_qa_model: Any


def video_qa_parts(frames: int = 100, image: int = 224, seq_len: int = 100, vocab: int = 10000, embed: int = 256,
                   lstm_units: int = 256, answers: int = 1000, filters: tuple[int, int, int] = (64, 128, 256), *,
                   lib: Any = None, names: bool = False) -> VideoQA:
    """Video QA on top of a VQA model: its vision model over the frames (TimeDistributed) and an LSTM,
    its question encoder reused as a nested Model."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    base = vqa_parts(image, seq_len, vocab, embed, lstm_units, answers, filters, lib=lib, names=names)
    video_input = lib.Input(shape=(frames, image, image, 3), name=n("video_input"))
    encoded_frame_sequence = L.TimeDistributed(base.vision_model, name=n("td_vision"))(video_input)
    encoded_video = L.LSTM(lstm_units, name=n("video_lstm"))(encoded_frame_sequence)
    question_encoder = lib.models.Model(inputs=base.question_input, outputs=base.encoded_question,
                                        name=n("question_encoder"))
    video_question_input = lib.Input(shape=(seq_len,), dtype="int32", name=n("video_question_input"))
    encoded_video_question = question_encoder(video_question_input)
    merged = L.concatenate([encoded_video, encoded_video_question], name=n("merged"))
    output = L.Dense(answers, activation="softmax", name=n("answer"))(merged)
    video_qa_model = lib.models.Model(inputs=[video_input, video_question_input], outputs=output,
                                      name=n("video_qa"))
    return VideoQA(base, question_encoder, video_qa_model)


def video_qa(*args: Any, **kwargs: Any) -> Any:
    """The video QA model of `video_qa_parts` (same arguments)."""
    return video_qa_parts(*args, **kwargs).video_qa_model
