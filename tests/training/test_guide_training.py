"""The guide's compile/fit snippets, verbatim with `keras` -> `kir` (data the guide leaves
undefined is generated here, small)."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import kir  # noqa: E402


def test_compile_snippets():
    from kir.layers import Dense
    from kir.models import Sequential

    model = Sequential([Dense(10, activation="softmax", input_dim=20)])
    # For a multi-class classification problem
    model.compile(optimizer='rmsprop',
                  loss='categorical_crossentropy',
                  metrics=['accuracy'])

    # For a binary classification problem
    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])

    # For a mean squared error regression problem
    model.compile(optimizer='rmsprop',
                  loss='mse')

    # For custom metrics
    import kir.backend as K

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy', mean_pred])
    x = np.random.random((64, 20))
    y = np.random.randint(2, size=(64, 10))
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert set(history.history) == {"accuracy", "loss", "mean_pred"}
    # mean_pred is the mean of the per-batch mean predictions, like Keras
    assert 0.0 < history.history["mean_pred"][-1] < 1.0


@pytest.mark.slow
def test_binary_classification_snippet(capsys):
    from kir.layers import Dense
    from kir.models import Sequential

    # For a single-input model with 2 classes (binary classification):

    model = Sequential()
    model.add(Dense(32, activation='relu', input_dim=100))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])

    # Generate dummy data
    import numpy as np
    data = np.random.random((1000, 100))
    labels = np.random.randint(2, size=(1000, 1))

    # Train the model, iterating on the data in batches of 32 samples
    history = model.fit(data, labels, epochs=10, batch_size=32)
    out = capsys.readouterr().out
    assert "Epoch 1/10" in out and "Epoch 10/10" in out
    assert "32/32 ━━━━━━━━━━━━━━━━━━━━" in out and "- accuracy: " in out and "- loss: " in out
    assert len(history.history["loss"]) == 10
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.slow
def test_categorical_classification_snippet():
    import kir
    from kir.layers import Dense
    from kir.models import Sequential

    # For a single-input model with 10 classes (categorical classification):

    model = Sequential()
    model.add(Dense(32, activation='relu', input_dim=100))
    model.add(Dense(10, activation='softmax'))
    model.compile(optimizer='rmsprop',
                  loss='categorical_crossentropy',
                  metrics=['accuracy'])

    # Generate dummy data
    import numpy as np
    data = np.random.random((1000, 100))
    labels = np.random.randint(10, size=(1000, 1))

    # Convert labels to categorical one-hot encoding
    one_hot_labels = kir.utils.to_categorical(labels, num_classes=10)

    # Train the model, iterating on the data in batches of 32 samples
    history = model.fit(data, one_hot_labels, epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # trained weights are in the layers: numpy and TensorFlow predictions agree
    np.testing.assert_allclose(model.predict(data[:50]), model.predict(data[:50], backend="tensorflow"),
                               atol=1e-5)


@pytest.mark.slow
def test_functional_snippet():
    from kir.layers import Dense, Input
    from kir.models import Model

    data = np.random.random((256, 784))
    labels = kir.utils.to_categorical(np.random.randint(10, size=(256, 1)), 10)

    # 返回一个（?,784）的tensor
    inputs = Input(shape=(784,))

    # 层对象可以以tensor作为输入进行调用，其返回值也是一个tensor
    x = Dense(64, activation='relu')(inputs)
    x = Dense(64, activation='relu')(x)
    predictions = Dense(10, activation='softmax')(x)

    # 创建一个model，其具有1个输入层，3个全连接层
    # the Input layer and three Dense layers
    model = Model(inputs=inputs, outputs=predictions)
    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(data, labels)  # starts training
    assert list(history.history) == ["accuracy", "loss"]


@pytest.mark.slow
def test_multi_input_multi_output_snippet():
    import kir
    from kir.layers import LSTM, Dense, Embedding, Input
    from kir.models import Model

    n = 64
    headline_data = np.random.randint(1, 10000, size=(n, 100))
    additional_data = np.random.random((n, 5))
    labels = np.random.randint(2, size=(n, 1))

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

    # 然后调用.compile对模型进行编译，可以通过一个字典或列表来制定不同的loss_weights和loss
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', loss_weights=[1., 0.2])

    # 调用fit进行模型训练
    history = model.fit({'main_input': headline_data, 'aux_input': additional_data},
                        {'main_output': labels, 'aux_output': labels}, epochs=50, batch_size=32, verbose=0)
    h = history.history
    assert list(h) == ["aux_output_loss", "loss", "main_output_loss"]
    np.testing.assert_allclose(h["loss"], np.array(h["main_output_loss"]) + 0.2 * np.array(h["aux_output_loss"]),
                               rtol=1e-5)
    assert h["loss"][-1] < h["loss"][0]


@pytest.mark.slow
def test_shared_lstm_snippet():
    import kir
    from kir.layers import LSTM, Dense, Input
    from kir.models import Model

    data_a = np.random.random((32, 280, 256)).astype("float32")
    data_b = np.random.random((32, 280, 256)).astype("float32")
    labels = np.random.randint(2, size=(32, 1))

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

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    before = shared_lstm.get_weights()[0].copy()
    model.fit([data_a, data_b], labels, epochs=10, verbose=0)
    # one set of weights, trained through both calls
    assert len(shared_lstm.get_weights()) == 3
    assert not np.allclose(before, shared_lstm.get_weights()[0])
