"""Reuters MLP (Keras' examples/reuters_mlp.py): 46 news topics from a bag of 1000 words.

Generated newswires: each topic has its own 30 favourite words among the 1000 most common, and a
wire mixes its topic's words with common ones. `--data reuters.npz` takes the real thing (word-index
sequences in x_train/x_test, or Keras' x/y layout split 80/20; needs --allow-pickle, the file
stores Python lists).

    python examples/reuters_mlp.py [--smoke] [--data reuters.npz --allow-pickle] [--epochs N]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train
from _data import load_or_generate, multi_hot, source

import kir
from kir.layers import Activation, Dense, Dropout
from kir.models import Sequential

max_words = 1000
batch_size = 32
num_classes = 46


def build_model() -> Sequential:
    model = Sequential()
    model.add(Dense(512, input_shape=(max_words,)))
    model.add(Activation('relu'))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes))
    model.add(Activation('softmax'))
    return model


def generate(n: int, rng: np.random.Generator, topic_words: np.ndarray) -> tuple[list, np.ndarray]:
    """Word-index sequences (as Keras' reuters gives them) and their topics."""
    topics = rng.integers(0, num_classes, size=n)
    wires = []
    for topic in topics:
        length = rng.integers(20, 120)
        own = rng.random(length) < 0.25
        words = np.where(own, rng.choice(topic_words[topic], size=length), rng.integers(1, max_words, size=length))
        wires.append(words.tolist())
    return wires, topics


def main() -> None:
    args = parse_args(__doc__, epochs=5, data=True)
    size = sizes(args, default={"train": 4000, "test": 1000}, smoke={"train": 64, "test": 32})
    topic_words = np.stack([args.rng.choice(np.arange(1, max_words), size=30, replace=False)
                            for _ in range(num_classes)])
    data = load_or_generate(args, lambda n: generate(n, args.rng, topic_words), size.train, size.test)

    # Vectorizing sequence data... (Tokenizer(num_words=max_words).sequences_to_matrix(mode='binary'))
    x_train = multi_hot(data.x_train, max_words)
    x_test = multi_hot(data.x_test, max_words)
    # Convert class vector to binary class matrix (for use with categorical_crossentropy)
    y_train = kir.utils.to_categorical(data.y_train, num_classes)
    y_test = kir.utils.to_categorical(data.y_test, num_classes)

    model = build_model()
    describe(f"reuters_mlp: {source(args, 'generated newswires')} -> MLP", model, f"{len(model.layers)} layers")
    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    train(model, x_train, y_train, args, batch_size=batch_size, validation_split=0.1)
    evaluate_and_deploy(model, x_test, y_test, args, "reuters_mlp", baseline=f"chance {1 / num_classes:.4f}",
                        deploy_samples=256)


if __name__ == "__main__":
    main()
