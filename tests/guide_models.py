"""The guide's models (keras-quickstart.zh.md) written as the guide writes them, with `keras` -> `kir`.

One factory per model; the size arguments default to the guide's sizes so tests can shrink the big
ones. Each factory builds fresh layers, so calling it twice gives two independent models.
"""

from __future__ import annotations

from dataclasses import dataclass

import kir
from kir.layers import (
    LSTM,
    Activation,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
    TimeDistributed,
)
from kir.models import Model, Sequential


def sequential_list(input_dim: int = 784, hidden: int = 32, classes: int = 10) -> Sequential:
    """`Sequential([Dense(32, input_shape=(784,)), Activation('relu'), Dense(10), Activation('softmax')])`."""
    return Sequential([
        Dense(hidden, input_shape=(input_dim,)),
        Activation("relu"),
        Dense(classes),
        Activation("softmax"),
    ])


def sequential_add(input_dim: int = 784, hidden: int = 32) -> Sequential:
    """`model.add(Dense(32, input_dim=784)); model.add(Activation('relu'))`."""
    model = Sequential()
    model.add(Dense(hidden, input_dim=input_dim))
    model.add(Activation("relu"))
    return model


def mlp_binary(input_dim: int = 100, hidden: int = 32) -> Sequential:
    """The binary-classification MLP of the training section."""
    model = Sequential()
    model.add(Dense(hidden, activation="relu", input_dim=input_dim))
    model.add(Dense(1, activation="sigmoid"))
    return model


def mlp_categorical(input_dim: int = 100, hidden: int = 32, classes: int = 10) -> Sequential:
    """The 10-class MLP of the training section."""
    model = Sequential()
    model.add(Dense(hidden, activation="relu", input_dim=input_dim))
    model.add(Dense(classes, activation="softmax"))
    return model


def functional_mlp(input_dim: int = 784, hidden: int = 64, classes: int = 10) -> Model:
    """Example one of the functional API: Input -> Dense x3."""
    inputs = Input(shape=(input_dim,))
    x = Dense(hidden, activation="relu")(inputs)
    x = Dense(hidden, activation="relu")(x)
    predictions = Dense(classes, activation="softmax")(x)
    return Model(inputs=inputs, outputs=predictions)


def time_distributed_mlp(steps: int = 20, input_dim: int = 784, hidden: int = 64, classes: int = 10) -> Model:
    """"Models are callable": the functional MLP applied to every frame with TimeDistributed."""
    model = functional_mlp(input_dim, hidden, classes)
    x = Input(shape=(input_dim,))
    model(x)
    input_sequences = Input(shape=(steps, input_dim))
    processed_sequences = TimeDistributed(model)(input_sequences)
    return Model(inputs=input_sequences, outputs=processed_sequences)


def multi_io(seq_len: int = 100, vocab: int = 10000, embed: int = 512, lstm_units: int = 32,
             aux_dim: int = 5, hidden: int = 64) -> Model:
    """The headline model: headline + auxiliary input, main and auxiliary outputs."""
    main_input = Input(shape=(seq_len,), dtype="int32", name="main_input")
    x = Embedding(output_dim=embed, input_dim=vocab, input_length=seq_len)(main_input)
    lstm_out = LSTM(lstm_units)(x)
    auxiliary_output = Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    auxiliary_input = Input(shape=(aux_dim,), name="aux_input")
    x = kir.layers.concatenate([lstm_out, auxiliary_input])
    x = Dense(hidden, activation="relu")(x)
    x = Dense(hidden, activation="relu")(x)
    x = Dense(hidden, activation="relu")(x)
    main_output = Dense(1, activation="sigmoid", name="main_output")(x)
    return Model(inputs=[main_input, auxiliary_input], outputs=[main_output, auxiliary_output])


def shared_lstm(timesteps: int = 280, features: int = 256, units: int = 64) -> Model:
    """Two tweets encoded by one shared LSTM, then a logistic regression."""
    tweet_a = Input(shape=(timesteps, features))
    tweet_b = Input(shape=(timesteps, features))
    shared = LSTM(units)
    encoded_a = shared(tweet_a)
    encoded_b = shared(tweet_b)
    merged_vector = kir.layers.concatenate([encoded_a, encoded_b], axis=-1)
    predictions = Dense(1, activation="sigmoid")(merged_vector)
    return Model(inputs=[tweet_a, tweet_b], outputs=predictions)


def inception(size: int = 256, filters: int = 64) -> Model:
    """The Inception block, including the guide's `concatenate(axis=1)` on NHWC maps."""
    input_img = Input(shape=(size, size, 3))
    tower_1 = Conv2D(filters, (1, 1), padding="same", activation="relu")(input_img)
    tower_1 = Conv2D(filters, (3, 3), padding="same", activation="relu")(tower_1)
    tower_2 = Conv2D(filters, (1, 1), padding="same", activation="relu")(input_img)
    tower_2 = Conv2D(filters, (5, 5), padding="same", activation="relu")(tower_2)
    tower_3 = MaxPooling2D((3, 3), strides=(1, 1), padding="same")(input_img)
    tower_3 = Conv2D(filters, (1, 1), padding="same", activation="relu")(tower_3)
    output = kir.layers.concatenate([tower_1, tower_2, tower_3], axis=1)
    return Model(inputs=input_img, outputs=output)


def residual(size: int = 256) -> Model:
    """The residual connection: x + Conv2D(3, (3, 3), padding='same')(x)."""
    x = Input(shape=(size, size, 3))
    y = Conv2D(3, (3, 3), padding="same")(x)
    z = kir.layers.add([x, y])
    return Model(inputs=x, outputs=z)


@dataclass
class SharedVision:
    vision_model: Model
    classification_model: Model


def shared_vision(size: int = 27, filters: int = 64) -> SharedVision:
    """The digit-pair model: one vision Model shared (weights and all) by two inputs."""
    digit_input = Input(shape=(size, size, 1))
    x = Conv2D(filters, (3, 3))(digit_input)
    x = Conv2D(filters, (3, 3))(x)
    x = MaxPooling2D((2, 2))(x)
    out = Flatten()(x)
    vision_model = Model(digit_input, out)
    digit_a = Input(shape=(size, size, 1))
    digit_b = Input(shape=(size, size, 1))
    out_a = vision_model(digit_a)
    out_b = vision_model(digit_b)
    concatenated = kir.layers.concatenate([out_a, out_b])
    out = Dense(1, activation="sigmoid")(concatenated)
    return SharedVision(vision_model, Model([digit_a, digit_b], out))


@dataclass
class VQA:
    vision_model: Sequential
    vqa_model: Model
    question_input: kir.ir.tensor.KTensor
    encoded_question: kir.ir.tensor.KTensor


def vqa(image: int = 224, seq_len: int = 100, vocab: int = 10000, embed: int = 256, lstm_units: int = 256,
        answers: int = 1000, filters: tuple[int, int, int] = (64, 128, 256)) -> VQA:
    """The visual question answering model (a Sequential vision model inside a functional model)."""
    f1, f2, f3 = filters
    vision_model = Sequential()
    vision_model.add(Conv2D(f1, (3, 3), activation="relu", padding="same", input_shape=(image, image, 3)))
    vision_model.add(Conv2D(f1, (3, 3), activation="relu"))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(f2, (3, 3), activation="relu", padding="same"))
    vision_model.add(Conv2D(f2, (3, 3), activation="relu"))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(f3, (3, 3), activation="relu", padding="same"))
    vision_model.add(Conv2D(f3, (3, 3), activation="relu"))
    vision_model.add(Conv2D(f3, (3, 3), activation="relu"))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Flatten())
    image_input = Input(shape=(image, image, 3))
    encoded_image = vision_model(image_input)
    question_input = Input(shape=(seq_len,), dtype="int32")
    embedded_question = Embedding(input_dim=vocab, output_dim=embed, input_length=seq_len)(question_input)
    encoded_question = LSTM(lstm_units)(embedded_question)
    merged = kir.layers.concatenate([encoded_question, encoded_image])
    output = Dense(answers, activation="softmax")(merged)
    vqa_model = Model(inputs=[image_input, question_input], outputs=output)
    return VQA(vision_model, vqa_model, question_input, encoded_question)


@dataclass
class VideoQA:
    vqa: VQA
    question_encoder: Model
    video_qa_model: Model


def video_qa(frames: int = 100, image: int = 224, seq_len: int = 100, vocab: int = 10000, embed: int = 256,
             lstm_units: int = 256, answers: int = 1000, filters: tuple[int, int, int] = (64, 128, 256)) -> VideoQA:
    """The video QA model: the VQA vision model over frames, the question encoder as a nested Model."""
    base = vqa(image, seq_len, vocab, embed, lstm_units, answers, filters)
    video_input = Input(shape=(frames, image, image, 3))
    encoded_frame_sequence = TimeDistributed(base.vision_model)(video_input)
    encoded_video = LSTM(lstm_units)(encoded_frame_sequence)
    question_encoder = Model(inputs=base.question_input, outputs=base.encoded_question)
    video_question_input = Input(shape=(seq_len,), dtype="int32")
    encoded_video_question = question_encoder(video_question_input)
    merged = kir.layers.concatenate([encoded_video, encoded_video_question])
    output = Dense(answers, activation="softmax")(merged)
    video_qa_model = Model(inputs=[video_input, video_question_input], outputs=output)
    return VideoQA(base, question_encoder, video_qa_model)
