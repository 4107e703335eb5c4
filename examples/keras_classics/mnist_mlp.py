'''Trains a simple deep NN on the MNIST dataset.

Gets to 98.40% test accuracy after 20 epochs
(there is *a lot* of margin for parameter tuning).
2 seconds per epoch on a K520 GPU.

kir port of keras-team/keras, examples/mnist_mlp.py at tag 2.3.1 (commit f295e8ee39d4ba841ac281a9337d69c7bc5e0eb6).
Run: python examples/keras_classics/mnist_mlp.py [--smoke] [--epochs N] [--out DIR]

Data (nothing can be downloaded here; see _classic.py):
- `mnist.load_data()`: _classic's stand-in, scikit-learn's 8x8 digits blown up to uint8 28x28 images (1400 train / 397 test; --smoke 256 / 300).
- `reshape(60000, 784)` / `reshape(10000, 784)` -> `reshape(x_train.shape[0], 784)` (the sample counts).

Harness (not in the original): `_classic.setup()` reads --smoke/--epochs/--out/--seed;
`_classic.epochs(n)` is n, or 1 under --smoke; `_classic.check(...)` at the end exports ONNX and
checks onnxruntime against model.predict(x, backend='tensorflow') (atol 1e-4).

Changes besides `keras` -> `kir` imports, the data and the harness:
- none: the original's code runs as it is.
'''

from __future__ import print_function

import _classic  # kir port: command line, data stand-ins, ONNX check
_classic.setup(__doc__)

import kir
from _classic import mnist
from kir.models import Sequential
from kir.layers import Dense, Dropout
from kir.optimizers import RMSprop

batch_size = 128
num_classes = 10
epochs = _classic.epochs(20)

# the data, split between train and test sets
(x_train, y_train), (x_test, y_test) = mnist.load_data()

x_train = x_train.reshape(x_train.shape[0], 784)
x_test = x_test.reshape(x_test.shape[0], 784)
x_train = x_train.astype('float32')
x_test = x_test.astype('float32')
x_train /= 255
x_test /= 255
print(x_train.shape[0], 'train samples')
print(x_test.shape[0], 'test samples')

# convert class vectors to binary class matrices
y_train = kir.utils.to_categorical(y_train, num_classes)
y_test = kir.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Dense(512, activation='relu', input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation='relu'))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation='softmax'))

model.summary()

model.compile(loss='categorical_crossentropy',
              optimizer=RMSprop(),
              metrics=['accuracy'])

history = model.fit(x_train, y_train,
                    batch_size=batch_size,
                    epochs=epochs,
                    verbose=1,
                    validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print('Test loss:', score[0])
print('Test accuracy:', score[1])

# kir port: export the trained model to ONNX, check onnxruntime against TensorFlow
_classic.check(model, x_test, 'mnist_mlp')
