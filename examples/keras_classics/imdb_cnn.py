'''
#This example demonstrates the use of Convolution1D for text classification.

Gets to 0.89 test accuracy after 2 epochs. </br>
90s/epoch on Intel i5 2.4Ghz CPU. </br>
10s/epoch on Tesla K40 GPU.

kir port of keras-team/keras, examples/imdb_cnn.py at tag 2.3.1 (commit f295e8ee39d4ba841ac281a9337d69c7bc5e0eb6).
Run: python examples/keras_classics/imdb_cnn.py [--smoke] [--epochs N] [--out DIR]

Data (nothing can be downloaded here; see _classic.py):
- `imdb.load_data(num_words=...)`: _classic's stand-in, generated word-index lists (1000 / 500; --smoke 128 / 64).

Harness (not in the original): `_classic.setup()` reads --smoke/--epochs/--out/--seed;
`_classic.epochs(n)` is n, or 1 under --smoke; `_classic.check(...)` at the end exports ONNX and
checks onnxruntime against model.predict(x, backend='tensorflow') (atol 1e-4).

Changes besides `keras` -> `kir` imports, the data and the harness:
- Keras 2 module path: `keras.preprocessing.sequence` -> `kir.utils.sequence` (same `pad_sequences`).
'''
from __future__ import print_function

import _classic  # kir port: command line, data stand-ins, ONNX check
_classic.setup(__doc__)

from kir.utils import sequence
from kir.models import Sequential
from kir.layers import Dense, Dropout, Activation
from kir.layers import Embedding
from kir.layers import Conv1D, GlobalMaxPooling1D
from _classic import imdb

# set parameters:
max_features = 5000
maxlen = 400
batch_size = 32
embedding_dims = 50
filters = 250
kernel_size = 3
hidden_dims = 250
epochs = _classic.epochs(2)

print('Loading data...')
(x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = sequence.pad_sequences(x_test, maxlen=maxlen)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)

print('Build model...')
model = Sequential()

# we start off with an efficient embedding layer which maps
# our vocab indices into embedding_dims dimensions
model.add(Embedding(max_features,
                    embedding_dims,
                    input_length=maxlen))
model.add(Dropout(0.2))

# we add a Convolution1D, which will learn filters
# word group filters of size filter_length:
model.add(Conv1D(filters,
                 kernel_size,
                 padding='valid',
                 activation='relu',
                 strides=1))
# we use max pooling:
model.add(GlobalMaxPooling1D())

# We add a vanilla hidden layer:
model.add(Dense(hidden_dims))
model.add(Dropout(0.2))
model.add(Activation('relu'))

# We project onto a single unit output layer, and squash it with a sigmoid:
model.add(Dense(1))
model.add(Activation('sigmoid'))

model.compile(loss='binary_crossentropy',
              optimizer='adam',
              metrics=['accuracy'])
model.fit(x_train, y_train,
          batch_size=batch_size,
          epochs=epochs,
          validation_data=(x_test, y_test))

# kir port: export the trained model to ONNX, check onnxruntime against TensorFlow
_classic.check(model, x_test, 'imdb_cnn')
