"""The guide's models written once against a Keras-like module (`kir` or `keras`), with every layer named.

`tests/guide_models.py` builds the guide's models in kir exactly as the guide writes them (automatic
layer names). Parity tests need the *same* model in Keras and kir with the *same* layer names, so that
weights can be copied by name; these builders take the library as an argument and name each layer.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def _concat(lib: ModuleType, tensors: list, axis: int = -1, name: str | None = None) -> Any:
    return lib.layers.concatenate(tensors, axis=axis, name=name)


def sequential_mlp(lib: ModuleType, input_dim: int = 784, hidden: int = 32, classes: int = 10) -> Any:
    """`Sequential([Dense(32, input_shape=(784,)), Activation('relu'), Dense(10), Activation('softmax')])`."""
    L = lib.layers
    model = lib.models.Sequential(name="seq_mlp")
    model.add(lib.Input(shape=(input_dim,), name="seq_in"))
    model.add(L.Dense(hidden, name="dense_a"))
    model.add(L.Activation("relu", name="relu_a"))
    model.add(L.Dense(classes, name="dense_b"))
    model.add(L.Activation("softmax", name="softmax_b"))
    return model


def functional_mlp(lib: ModuleType, input_dim: int = 784, hidden: int = 64, classes: int = 10,
                   prefix: str = "mlp") -> Any:
    L = lib.layers
    inputs = lib.Input(shape=(input_dim,), name=f"{prefix}_in")
    x = L.Dense(hidden, activation="relu", name=f"{prefix}_d1")(inputs)
    x = L.Dense(hidden, activation="relu", name=f"{prefix}_d2")(x)
    predictions = L.Dense(classes, activation="softmax", name=f"{prefix}_d3")(x)
    return lib.models.Model(inputs=inputs, outputs=predictions, name=prefix)


def time_distributed_mlp(lib: ModuleType, steps: int = 20, input_dim: int = 784, hidden: int = 64,
                         classes: int = 10) -> Any:
    """The functional MLP applied to every frame: `TimeDistributed(model)(input_sequences)`."""
    model = functional_mlp(lib, input_dim, hidden, classes)
    seqs = lib.Input(shape=(steps, input_dim), name="sequences")
    out = lib.layers.TimeDistributed(model, name="td_mlp")(seqs)
    return lib.models.Model(inputs=seqs, outputs=out, name="td_model")


def multi_io(lib: ModuleType, seq_len: int = 100, vocab: int = 10000, embed: int = 512, lstm_units: int = 32,
             aux_dim: int = 5, hidden: int = 64) -> Any:
    """The headline model: main + auxiliary inputs, main + auxiliary outputs."""
    L = lib.layers
    main_input = lib.Input(shape=(seq_len,), dtype="int32", name="main_input")
    x = L.Embedding(output_dim=embed, input_dim=vocab, name="embedding")(main_input)
    lstm_out = L.LSTM(lstm_units, name="lstm")(x)
    auxiliary_output = L.Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    auxiliary_input = lib.Input(shape=(aux_dim,), name="aux_input")
    x = _concat(lib, [lstm_out, auxiliary_input], name="concat")
    for i in range(3):
        x = L.Dense(hidden, activation="relu", name=f"hidden_{i}")(x)
    main_output = L.Dense(1, activation="sigmoid", name="main_output")(x)
    return lib.models.Model(inputs=[main_input, auxiliary_input], outputs=[main_output, auxiliary_output],
                            name="multi_io")


def shared_lstm(lib: ModuleType, timesteps: int = 280, features: int = 256, units: int = 64) -> Any:
    L = lib.layers
    tweet_a = lib.Input(shape=(timesteps, features), name="tweet_a")
    tweet_b = lib.Input(shape=(timesteps, features), name="tweet_b")
    shared = L.LSTM(units, name="shared_lstm")
    merged = _concat(lib, [shared(tweet_a), shared(tweet_b)], axis=-1, name="merged")
    predictions = L.Dense(1, activation="sigmoid", name="predictions")(merged)
    return lib.models.Model(inputs=[tweet_a, tweet_b], outputs=predictions, name="shared_lstm_model")


def inception(lib: ModuleType, size: int = 256, filters: int = 64) -> Any:
    """The Inception block with the guide's `concatenate(axis=1)` on NHWC maps."""
    L = lib.layers
    img = lib.Input(shape=(size, size, 3), name="input_img")
    t1 = L.Conv2D(filters, (1, 1), padding="same", activation="relu", name="tower_1a")(img)
    t1 = L.Conv2D(filters, (3, 3), padding="same", activation="relu", name="tower_1b")(t1)
    t2 = L.Conv2D(filters, (1, 1), padding="same", activation="relu", name="tower_2a")(img)
    t2 = L.Conv2D(filters, (5, 5), padding="same", activation="relu", name="tower_2b")(t2)
    t3 = L.MaxPooling2D((3, 3), strides=(1, 1), padding="same", name="tower_3a")(img)
    t3 = L.Conv2D(filters, (1, 1), padding="same", activation="relu", name="tower_3b")(t3)
    out = _concat(lib, [t1, t2, t3], axis=1, name="towers")
    return lib.models.Model(inputs=img, outputs=out, name="inception")


def residual(lib: ModuleType, size: int = 256) -> Any:
    L = lib.layers
    x = lib.Input(shape=(size, size, 3), name="x")
    y = L.Conv2D(3, (3, 3), padding="same", name="conv")(x)
    z = L.add([x, y], name="residual_add")
    return lib.models.Model(inputs=x, outputs=z, name="residual")


def shared_vision(lib: ModuleType, size: int = 27, filters: int = 64) -> Any:
    """The digit-pair classifier: one vision Model (named 'vision_model') called on two inputs."""
    L = lib.layers
    digit_input = lib.Input(shape=(size, size, 1), name="digit_input")
    x = L.Conv2D(filters, (3, 3), name="vconv_1")(digit_input)
    x = L.Conv2D(filters, (3, 3), name="vconv_2")(x)
    x = L.MaxPooling2D((2, 2), name="vpool")(x)
    out = L.Flatten(name="vflat")(x)
    vision_model = lib.models.Model(digit_input, out, name="vision_model")
    digit_a = lib.Input(shape=(size, size, 1), name="digit_a")
    digit_b = lib.Input(shape=(size, size, 1), name="digit_b")
    concatenated = _concat(lib, [vision_model(digit_a), vision_model(digit_b)], name="pair")
    out = L.Dense(1, activation="sigmoid", name="same_digit")(concatenated)
    return lib.models.Model([digit_a, digit_b], out, name="classification_model")


def vision_sequential(lib: ModuleType, image: int = 224, filters: tuple[int, int, int] = (64, 128, 256)) -> Any:
    """The VQA guide's Sequential vision encoder (named 'vision_model')."""
    L = lib.layers
    f1, f2, f3 = filters
    m = lib.models.Sequential(name="vision_model")
    m.add(lib.Input(shape=(image, image, 3), name="vision_in"))
    m.add(L.Conv2D(f1, (3, 3), activation="relu", padding="same", name="c1a"))
    m.add(L.Conv2D(f1, (3, 3), activation="relu", name="c1b"))
    m.add(L.MaxPooling2D((2, 2), name="p1"))
    m.add(L.Conv2D(f2, (3, 3), activation="relu", padding="same", name="c2a"))
    m.add(L.Conv2D(f2, (3, 3), activation="relu", name="c2b"))
    m.add(L.MaxPooling2D((2, 2), name="p2"))
    m.add(L.Conv2D(f3, (3, 3), activation="relu", padding="same", name="c3a"))
    m.add(L.Conv2D(f3, (3, 3), activation="relu", name="c3b"))
    m.add(L.Conv2D(f3, (3, 3), activation="relu", name="c3c"))
    m.add(L.MaxPooling2D((2, 2), name="p3"))
    m.add(L.Flatten(name="flat"))
    return m


def _question_encoder(lib: ModuleType, seq_len: int, vocab: int, embed: int, lstm_units: int) -> Any:
    L = lib.layers
    q = lib.Input(shape=(seq_len,), dtype="int32", name="question")
    e = L.Embedding(input_dim=vocab, output_dim=embed, name="q_embedding")(q)
    h = L.LSTM(lstm_units, name="q_lstm")(e)
    return lib.models.Model(inputs=q, outputs=h, name="question_encoder")


def vqa(lib: ModuleType, image: int = 224, seq_len: int = 100, vocab: int = 10000, embed: int = 256,
        lstm_units: int = 256, answers: int = 1000, filters: tuple[int, int, int] = (64, 128, 256)) -> Any:
    """Visual QA: Sequential vision encoder + question encoder, concatenated, softmax over answers."""
    L = lib.layers
    vision = vision_sequential(lib, image, filters)
    image_input = lib.Input(shape=(image, image, 3), name="image")
    question_input = lib.Input(shape=(seq_len,), dtype="int32", name="question_in")
    e = L.Embedding(input_dim=vocab, output_dim=embed, name="q_embedding")(question_input)
    encoded_question = L.LSTM(lstm_units, name="q_lstm")(e)
    merged = _concat(lib, [encoded_question, vision(image_input)], name="merged")
    output = L.Dense(answers, activation="softmax", name="answer")(merged)
    return lib.models.Model(inputs=[image_input, question_input], outputs=output, name="vqa_model")


def video_qa(lib: ModuleType, frames: int = 100, image: int = 224, seq_len: int = 100, vocab: int = 10000,
             embed: int = 256, lstm_units: int = 256, answers: int = 1000,
             filters: tuple[int, int, int] = (64, 128, 256)) -> Any:
    """Video QA: the vision encoder over frames (TimeDistributed), an LSTM, and a nested question encoder."""
    L = lib.layers
    vision = vision_sequential(lib, image, filters)
    encoder = _question_encoder(lib, seq_len, vocab, embed, lstm_units)
    video_input = lib.Input(shape=(frames, image, image, 3), name="video")
    frames_encoded = L.TimeDistributed(vision, name="td_vision")(video_input)
    encoded_video = L.LSTM(lstm_units, name="video_lstm")(frames_encoded)
    video_question = lib.Input(shape=(seq_len,), dtype="int32", name="video_question")
    merged = _concat(lib, [encoded_video, encoder(video_question)], name="merged")
    output = L.Dense(answers, activation="softmax", name="answer")(merged)
    return lib.models.Model(inputs=[video_input, video_question], outputs=output, name="video_qa_model")
