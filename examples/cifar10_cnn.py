"""CIFAR10 CNN (Keras' examples/cifar10_cnn.py) on generated 32x32 colour images, or on --data.

The generated classes are ten textures (stripes of five orientations, each in two colour
schemes) with random phase, brightness and noise, so the network has something to learn offline.
`--data cifar10.npz` takes the real thing: x_train (n, 32, 32, 3) uint8, y_train (n, 1), x_test,
y_test, as `keras.datasets.cifar10.load_data()` returns them.

    python examples/cifar10_cnn.py [--smoke] [--data cifar10.npz] [--epochs N]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train
from _data import load_or_generate, source

import kir
from kir.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from kir.models import Sequential
from kir.optimizers import RMSprop

batch_size = 32
num_classes = 10


def build_model(input_shape: tuple = (32, 32, 3)) -> Sequential:
    model = Sequential()
    model.add(Conv2D(32, (3, 3), padding='same', input_shape=input_shape))
    model.add(Activation('relu'))
    model.add(Conv2D(32, (3, 3)))
    model.add(Activation('relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))

    model.add(Conv2D(64, (3, 3), padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(64, (3, 3)))
    model.add(Activation('relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))

    model.add(Flatten())
    model.add(Dense(512))
    model.add(Activation('relu'))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes))
    model.add(Activation('softmax'))
    return model


def generate(n: int, rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images like CIFAR10's: class k is stripes at angle (k % 5) * 36 degrees, colour scheme k // 5."""
    labels = rng.integers(0, num_classes, size=(n, 1))
    angle = np.deg2rad((labels[:, 0] % 5) * 36.0)[:, None, None]
    rows, cols = np.mgrid[0:size, 0:size]
    wave = np.sin(0.8 * (np.cos(angle) * cols + np.sin(angle) * rows) + rng.uniform(0, 2 * np.pi, (n, 1, 1)))
    schemes = np.array([[1.0, 0.6, 0.2], [0.2, 0.6, 1.0]])[labels[:, 0] // 5][:, None, None, :]
    images = 128 + 90 * wave[..., None] * schemes * rng.uniform(0.5, 1.0, (n, 1, 1, 1))
    images += rng.normal(0, 25, size=images.shape)
    return np.clip(images, 0, 255).astype('uint8'), labels


def main() -> None:
    args = parse_args(__doc__, epochs=5, data=True)
    size = sizes(args, default={"train": 2000, "test": 500}, smoke={"train": 64, "test": 32})
    data = load_or_generate(args, lambda n: generate(n, args.rng), size.train, size.test)
    x_train = data.x_train.astype('float32') / 255
    x_test = data.x_test.astype('float32') / 255
    # Convert class vectors to binary class matrices.
    y_train = kir.utils.to_categorical(data.y_train, num_classes)
    y_test = kir.utils.to_categorical(data.y_test, num_classes)

    model = build_model(x_train.shape[1:])
    describe(f"cifar10_cnn: {source(args, 'generated textures')} -> CNN", model, f"{len(model.layers)} layers")
    # initiate RMSprop optimizer (Keras 3's RMSprop has no `decay`; the example's 1e-6 is dropped)
    opt = RMSprop(learning_rate=0.0001)
    model.compile(loss='categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
    train(model, x_train, y_train, args, batch_size=batch_size, validation_data=(x_test, y_test), shuffle=True)
    evaluate_and_deploy(model, x_test, y_test, args, "cifar10_cnn", deploy_samples=256)


if __name__ == "__main__":
    main()
