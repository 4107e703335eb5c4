"""Every graph-building snippet of the guide (keras-quickstart.zh.md), verbatim with `keras` -> `kir`.

Each test is one snippet; the expected shapes are what Keras reports for the same code. Where it is
cheap, the same model is also built in real Keras (`kir.zoo.guide`) and the shapes compared.
compile/fit lines are left out (the training tests own them).
"""

from __future__ import annotations

import pytest

import kir
from kir.zoo import guide as zoo


def _keras():
    return pytest.importorskip("keras")


def test_sequential_from_list():
    from kir.layers import Activation, Dense
    from kir.models import Sequential

    model = Sequential([
        Dense(32, input_shape=(784,)),
        Activation('relu'),
        Dense(10),
        Activation('softmax'),
    ])
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 10)
    assert [type(lay).__name__ for lay in model.layers] == ["Dense", "Activation", "Dense", "Activation"]
    assert [lay.output_shape for lay in model.layers] == [(None, 32), (None, 32), (None, 10), (None, 10)]
    assert model.count_params() == 784 * 32 + 32 + 32 * 10 + 10
    keras_model = zoo.sequential_mlp(lib=_keras())
    assert keras_model.output_shape == model.output_shape
    assert keras_model.count_params() == model.count_params()


def test_sequential_by_add_with_input_dim():
    from kir.layers import Activation, Dense
    from kir.models import Sequential

    model = Sequential()
    model.add(Dense(32, input_dim=784))
    model.add(Activation('relu'))
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 32)
    assert model.layers[0].get_weights()[0].shape == (784, 32)


def test_input_shape_and_input_dim_are_equivalent():
    from kir.layers import Dense
    from kir.models import Sequential

    model = Sequential()
    model.add(Dense(32, input_shape=(784,)))
    a = model
    model = Sequential()
    model.add(Dense(32, input_dim=784))
    b = model
    assert a.input_shape == b.input_shape == (None, 784)
    assert a.output_shape == b.output_shape == (None, 32)
    assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()] == [(784, 32), (32,)]


def test_batch_size_fixes_the_batch_dimension():
    from kir.layers import Dense
    from kir.models import Sequential

    model = Sequential()
    model.add(Dense(32, batch_size=32, input_shape=(6, 8)))
    assert model.input_shape == (32, 6, 8)
    assert model.output_shape == (32, 6, 32)
    assert model.inputs[0].shape == (32, 6, 8)


def test_input_dim_and_input_length_for_a_recurrent_first_layer():
    from kir.layers import LSTM
    from kir.models import Sequential

    model = Sequential()
    model.add(LSTM(32, input_dim=8, input_length=10))
    assert model.input_shape == (None, 10, 8)
    assert model.output_shape == (None, 32)


def _guide_functional_mlp():
    """Example one of the functional API, verbatim up to the compile/fit lines."""
    from kir.layers import Dense, Input
    from kir.models import Model

    # 返回一个（?,784）的tensor
    inputs = Input(shape=(784,))

    # 层对象可以以tensor作为输入进行调用，其返回值也是一个tensor
    x = Dense(64, activation='relu')(inputs)
    x = Dense(64, activation='relu')(x)
    predictions = Dense(10, activation='softmax')(x)

    # 创建一个model，其具有1个输入层，3个全连接层
    # the Input layer and three Dense layers
    model = Model(inputs=inputs, outputs=predictions)
    return model


def test_functional_mlp():
    model = _guide_functional_mlp()
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 10)
    assert len(model.layers) == 4  # InputLayer + 3 Dense, as in Keras
    assert model.count_params() == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    keras_model = zoo.functional_mlp(lib=_keras())
    assert keras_model.output_shape == model.output_shape
    assert keras_model.count_params() == model.count_params()


def test_model_is_callable_and_reuses_weights():
    from kir.layers import Input

    model = _guide_functional_mlp()
    n_params = model.count_params()
    x = Input(shape=(784,))
    # 通过以下调用，按上文定义，可以对输入进行10分类
    y = model(x)
    assert y.shape == (None, 10)
    assert model.count_params() == n_params
    assert model.get_output_at(1) is y
    outer = kir.models.Model(x, y)
    assert outer.count_params() == n_params


def test_time_distributed_model_over_frames():
    from kir.layers import Input, TimeDistributed

    model = _guide_functional_mlp()
    # 输入序列包含10帧画面，每一帧是784维的向量
    input_sequences = Input(shape=(20, 784))

    # 将上文的模型运用到输入序列的每一帧
    processed_sequences = TimeDistributed(model)(input_sequences)
    assert processed_sequences.shape == (None, 20, 10)
    keras_model = zoo.time_distributed_mlp(lib=_keras())
    assert keras_model.output_shape == (None, 20, 10)


def test_multi_input_multi_output_model():
    from kir.layers import LSTM, Dense, Embedding, Input
    from kir.models import Model

    # main_input接收长度100的整数序列
    main_input = Input(shape=(100,), dtype='int32', name='main_input')

    # embedding层将输入序列编码成521维向量序列
    x = Embedding(output_dim=512, input_dim=10000, input_length=100)(main_input)

    # LSTM层将向量序列转换成一个向量
    lstm_out = LSTM(32)(x)

    # 然后添加一个辅助损失函数，使LSTM和Embedding层可以较平滑地进行训练
    auxiliary_output = Dense(1, activation='sigmoid', name='aux_output')(lstm_out)

    # 将LSTM输出和辅助输入结合在一起作为后续模型的输入
    auxiliary_input = Input(shape=(5,), name='aux_input')
    x = kir.layers.concatenate([lstm_out, auxiliary_input])

    x = Dense(64, activation='relu')(x)
    x = Dense(64, activation='relu')(x)
    x = Dense(64, activation='relu')(x)

    main_output = Dense(1, activation='sigmoid', name='main_output')(x)

    # 然后定义一个双输入双输出模型：
    model = Model(inputs=[main_input, auxiliary_input], outputs=[main_output, auxiliary_output])

    assert x.shape == (None, 64)
    assert lstm_out.shape == (None, 32)
    assert model.input_shape == [(None, 100), (None, 5)]
    assert model.output_shape == [(None, 1), (None, 1)]
    assert model.input_names == ["main_input", "aux_input"]
    assert model.output_names == ["main_output", "aux_output"]
    assert main_input.dtype == "int32"
    keras_model = zoo.multi_io(lib=_keras())
    assert keras_model.output_shape == model.output_shape
    assert keras_model.count_params() == model.count_params() == 5_200_610


def test_shared_lstm():
    from kir.layers import LSTM, Dense, Input
    from kir.models import Model

    tweet_a = Input(shape=(280, 256))
    tweet_b = Input(shape=(280, 256))

    # 使用共享层时，只需要实例化一次，并进行任意多次的调用

    # LSTM(64)接收矩阵输入，并输出一个64维的向量
    shared_lstm = LSTM(64)

    # 当多次调用同一个网络层时，网络层的结构和权重参数都将被复用
    encoded_a = shared_lstm(tweet_a)
    encoded_b = shared_lstm(tweet_b)

    # 然后将2条tweet编码后的向量进行线性组合
    merged_vector = kir.layers.concatenate([encoded_a, encoded_b], axis=-1)

    # 添加一个逻辑回归层进行概率判断
    predictions = Dense(1, activation='sigmoid')(merged_vector)

    # 定义模型并训练
    model = Model(inputs=[tweet_a, tweet_b], outputs=predictions)

    assert merged_vector.shape == (None, 128)
    assert model.output_shape == (None, 1)
    assert model.input_shape == [(None, 280, 256), (None, 280, 256)]
    assert shared_lstm.get_output_shape_at(0) == shared_lstm.get_output_shape_at(1) == (None, 64)
    assert shared_lstm.output_shape == (None, 64)  # nodes agree, so the plain property works
    # one LSTM, weights counted once
    assert model.count_params() == 4 * 64 * (256 + 64 + 1) + 128 + 1
    keras_model = zoo.shared_lstm(lib=_keras())
    assert keras_model.count_params() == model.count_params()
    assert keras_model.output_shape == model.output_shape


def test_single_node_output_is_the_call_result():
    from kir.layers import LSTM, Input

    a = Input(shape=(280, 256))

    lstm = LSTM(32)
    encoded_a = lstm(a)

    assert lstm.output == encoded_a
    assert lstm.output is encoded_a
    assert lstm.input is a
    assert lstm.output_shape == (None, 32)


def test_get_output_at_on_a_shared_layer():
    from kir.layers import LSTM, Input

    a = Input(shape=(280, 256))
    b = Input(shape=(280, 256))

    lstm = LSTM(32)
    encoded_a = lstm(a)
    encoded_b = lstm(b)

    assert lstm.get_output_at(0) == encoded_a
    assert lstm.get_output_at(1) == encoded_b
    assert encoded_a != encoded_b  # `==` is identity, not elementwise
    assert lstm.get_input_at(0) is a and lstm.get_input_at(1) is b


def test_conv2d_input_shape_then_get_input_shape_at():
    from kir.layers import Conv2D, Input

    a = Input(shape=(32, 32, 3))
    b = Input(shape=(64, 64, 3))

    conv = Conv2D(16, (3, 3), padding='same')
    conved_a = conv(a)

    # Only one input so far, the following will work:
    assert conv.input_shape == (None, 32, 32, 3)

    conved_b = conv(b)
    # now the `.input_shape` property wouldn't work, but this does:
    assert conv.get_input_shape_at(0) == (None, 32, 32, 3)
    assert conv.get_input_shape_at(1) == (None, 64, 64, 3)

    assert conved_a.shape == (None, 32, 32, 16)
    assert conved_b.shape == (None, 64, 64, 16)
    with pytest.raises(kir.errors.GraphError, match="get_input_shape_at"):
        conv.input_shape  # noqa: B018


def test_inception_block_concatenates_on_axis_1():
    from kir.layers import Conv2D, Input, MaxPooling2D

    input_img = Input(shape=(256, 256, 3))

    tower_1 = Conv2D(64, (1, 1), padding='same', activation='relu')(input_img)
    tower_1 = Conv2D(64, (3, 3), padding='same', activation='relu')(tower_1)

    tower_2 = Conv2D(64, (1, 1), padding='same', activation='relu')(input_img)
    tower_2 = Conv2D(64, (5, 5), padding='same', activation='relu')(tower_2)

    tower_3 = MaxPooling2D((3, 3), strides=(1, 1), padding='same')(input_img)
    tower_3 = Conv2D(64, (1, 1), padding='same', activation='relu')(tower_3)

    output = kir.layers.concatenate([tower_1, tower_2, tower_3], axis=1)

    assert tower_1.shape == tower_2.shape == tower_3.shape == (None, 256, 256, 64)
    assert output.shape == (None, 768, 256, 64)
    keras_model = zoo.inception(lib=_keras())
    assert keras_model.output_shape == (None, 768, 256, 64)


def test_residual_connection():
    from kir.layers import Conv2D, Input

    # input tensor for a 3-channel 256x256 image
    x = Input(shape=(256, 256, 3))
    # 3x3 conv with 3 output channels (same as input channels)
    y = Conv2D(3, (3, 3), padding='same')(x)
    # this returns x + y.
    z = kir.layers.add([x, y])

    assert y.shape == z.shape == (None, 256, 256, 3)
    assert kir.models.Model(x, z).count_params() == 3 * 3 * 3 * 3 + 3


def test_shared_vision_model():
    from kir.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    from kir.models import Model

    # First, define the vision modules
    digit_input = Input(shape=(27, 27, 1))
    x = Conv2D(64, (3, 3))(digit_input)
    x = Conv2D(64, (3, 3))(x)
    x = MaxPooling2D((2, 2))(x)
    out = Flatten()(x)

    vision_model = Model(digit_input, out)

    # Then define the tell-digits-apart model
    digit_a = Input(shape=(27, 27, 1))
    digit_b = Input(shape=(27, 27, 1))

    # The vision model will be shared, weights and all
    out_a = vision_model(digit_a)
    out_b = vision_model(digit_b)

    concatenated = kir.layers.concatenate([out_a, out_b])
    out = Dense(1, activation='sigmoid')(concatenated)

    classification_model = Model([digit_a, digit_b], out)

    assert vision_model.output_shape == (None, 11 * 11 * 64)
    assert out_a.shape == out_b.shape == (None, 7744)
    assert concatenated.shape == (None, 15488)
    assert classification_model.output_shape == (None, 1)
    vision_params = (3 * 3 * 1 * 64 + 64) + (3 * 3 * 64 * 64 + 64)
    assert vision_model.count_params() == vision_params
    assert classification_model.count_params() == vision_params + 15488 + 1
    keras_model = zoo.shared_vision(lib=_keras())
    assert keras_model.output_shape == classification_model.output_shape
    assert keras_model.count_params() == classification_model.count_params()


def _guide_vqa():
    """The visual question answering snippet, verbatim; returns what the video snippet reuses."""
    from kir.layers import LSTM, Conv2D, Dense, Embedding, Flatten, Input, MaxPooling2D
    from kir.models import Model, Sequential

    # First, let's define a vision model using a Sequential model.
    # This model will encode an image into a vector.
    vision_model = Sequential()
    vision_model.add(Conv2D(64, (3, 3), activation='relu', padding='same', input_shape=(224, 224, 3)))
    vision_model.add(Conv2D(64, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(128, (3, 3), activation='relu', padding='same'))
    vision_model.add(Conv2D(128, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(256, (3, 3), activation='relu', padding='same'))
    vision_model.add(Conv2D(256, (3, 3), activation='relu'))
    vision_model.add(Conv2D(256, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Flatten())

    # Now let's get a tensor with the output of our vision model:
    image_input = Input(shape=(224, 224, 3))
    encoded_image = vision_model(image_input)

    # Next, let's define a language model to encode the question into a vector.
    # Each question will be at most 100 word long,
    # and we will index words as integers from 1 to 9999.
    question_input = Input(shape=(100,), dtype='int32')
    embedded_question = Embedding(input_dim=10000, output_dim=256, input_length=100)(question_input)
    encoded_question = LSTM(256)(embedded_question)

    # Let's concatenate the question vector and the image vector:
    merged = kir.layers.concatenate([encoded_question, encoded_image])

    # And let's train a logistic regression over 1000 words on top:
    output = Dense(1000, activation='softmax')(merged)

    # This is our final model:
    vqa_model = Model(inputs=[image_input, question_input], outputs=output)
    return vision_model, vqa_model, question_input, encoded_question, merged


# Keras' parameter counts for the guide's full-size vision encoder and VQA model.
VISION_PARAMS = (1792 + 36928) + (73856 + 147584) + (295168 + 590080 + 590080)
VQA_PARAMS = VISION_PARAMS + 10000 * 256 + 4 * 256 * (256 + 256 + 1) + (256 + 160000) * 1000 + 1000


@pytest.mark.slow
def test_full_size_vqa_model():
    vision_model, vqa_model, _, encoded_question, merged = _guide_vqa()
    assert vision_model.output_shape == (None, 160000)
    assert vision_model.input_shape == (None, 224, 224, 3)
    assert [lay.output_shape for lay in vision_model.layers] == [
        (None, 224, 224, 64), (None, 222, 222, 64), (None, 111, 111, 64),
        (None, 111, 111, 128), (None, 109, 109, 128), (None, 54, 54, 128),
        (None, 54, 54, 256), (None, 52, 52, 256), (None, 50, 50, 256), (None, 25, 25, 256),
        (None, 160000),
    ]
    assert encoded_question.shape == (None, 256)
    assert merged.shape == (None, 160256)
    assert vqa_model.output_shape == (None, 1000)
    assert vqa_model.input_shape == [(None, 224, 224, 3), (None, 100)]
    assert vision_model.count_params() == VISION_PARAMS
    assert vqa_model.count_params() == VQA_PARAMS


def test_reduced_vqa_model_matches_keras_shapes():
    """The same VQA graph at a small size, shapes and parameter counts against real Keras."""
    sizes = dict(image=40, seq_len=10, vocab=50, embed=8, lstm_units=8, answers=12, filters=(4, 6, 8))
    model = zoo.vqa(names=True, **sizes)
    keras_model = zoo.vqa(lib=_keras(), names=True, **sizes)
    assert model.output_shape == keras_model.output_shape == (None, 12)
    vision, keras_vision = model.get_layer("vision_model"), keras_model.get_layer("vision_model")
    assert vision.output_shape == keras_vision.output_shape == (None, 2 * 2 * 8)
    assert [lay.output_shape for lay in vision.layers] == [lay.output.shape for lay in keras_vision.layers]
    assert model.count_params() == keras_model.count_params()


@pytest.mark.slow
def test_full_size_video_qa_model():
    from kir.layers import LSTM, Dense, Input, TimeDistributed
    from kir.models import Model

    vision_model, _, question_input, encoded_question, _ = _guide_vqa()

    video_input = Input(shape=(100, 224, 224, 3))
    # This is our video encoded via the previously trained vision_model (weights are reused)
    encoded_frame_sequence = TimeDistributed(vision_model)(video_input)  # the output will be a sequence of vectors
    encoded_video = LSTM(256)(encoded_frame_sequence)  # the output will be a vector

    # This is a model-level representation of the question encoder, reusing the same weights as before:
    question_encoder = Model(inputs=question_input, outputs=encoded_question)

    # Let's use it to encode the question:
    video_question_input = Input(shape=(100,), dtype='int32')
    encoded_video_question = question_encoder(video_question_input)

    # And this is our video question answering model:
    merged = kir.layers.concatenate([encoded_video, encoded_video_question])
    output = Dense(1000, activation='softmax')(merged)
    video_qa_model = Model(inputs=[video_input, video_question_input], outputs=output)

    assert encoded_frame_sequence.shape == (None, 100, 160000)
    assert encoded_video.shape == (None, 256)
    assert encoded_video_question.shape == (None, 256)
    assert merged.shape == (None, 512)
    assert video_qa_model.output_shape == (None, 1000)
    assert video_qa_model.input_shape == [(None, 100, 224, 224, 3), (None, 100)]
    question_params = 10000 * 256 + 4 * 256 * (256 + 256 + 1)
    assert question_encoder.count_params() == question_params
    assert video_qa_model.count_params() == (
        VISION_PARAMS + 4 * 256 * (160000 + 256 + 1) + question_params + 512 * 1000 + 1000
    )


def test_reduced_video_qa_model_matches_keras_shapes():
    sizes = dict(frames=3, image=32, seq_len=10, vocab=50, embed=8, lstm_units=8, answers=12, filters=(4, 6, 8))
    model = zoo.video_qa(names=True, **sizes)
    keras_model = zoo.video_qa(lib=_keras(), names=True, **sizes)
    assert model.output_shape == keras_model.output_shape == (None, 12)
    assert model.get_layer("td_vision").output_shape == (None, 3, 8)
    assert model.count_params() == keras_model.count_params()
