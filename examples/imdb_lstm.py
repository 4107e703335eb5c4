"""IMDB LSTM (Keras' examples/imdb_lstm.py): review sentiment from word sequences, Embedding + LSTM.

Generated reviews: words 1-100 carry sentiment (1-50 praise, 51-100 criticism); a positive review
draws praise words three times as often as criticism, a negative one the reverse, amid neutral
words. `--data imdb.npz --allow-pickle` takes Keras' imdb.npz (lists of word indices; words at or
above max_features become 2, the out-of-vocabulary index, as `imdb.load_data(num_words=...)` does).

The model is written here rather than taken from kir.zoo.keras_examples.imdb_lstm: Keras' example
gives its LSTM dropout=0.2 and recurrent_dropout=0.2, which the zoo's copy does not have.

    python examples/imdb_lstm.py [--smoke] [--data imdb.npz --allow-pickle] [--epochs N]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train
from _data import load_or_generate, pad_sequences, source

from kir.layers import LSTM, Dense, Embedding
from kir.models import Sequential

max_features = 20000
# cut texts after this number of words (among top max_features most common words)
maxlen = 80
batch_size = 32
OUT_OF_VOCABULARY = 2  # the word index Keras' imdb.load_data(num_words=...) gives rarer words


def build_model() -> Sequential:
    """Keras' example leaves Embedding's input length open; kir builds at compile, so it is given."""
    model = Sequential()
    model.add(Embedding(max_features, 128, input_length=maxlen))
    model.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(1, activation='sigmoid'))
    return model


def generate(n: int, rng: np.random.Generator) -> tuple[list, np.ndarray]:
    labels = rng.integers(0, 2, size=n)
    reviews = []
    for label in labels:
        length = rng.integers(30, 200)
        kind = rng.random(length)
        praise = rng.integers(1, 51, size=length)
        criticism = rng.integers(51, 101, size=length)
        neutral = rng.integers(101, max_features, size=length)
        p_praise, p_criticism = (0.15, 0.05) if label else (0.05, 0.15)
        words = np.where(kind < p_praise, praise, np.where(kind < p_praise + p_criticism, criticism, neutral))
        reviews.append(words.tolist())
    return reviews, labels


def main() -> None:
    args = parse_args(__doc__, epochs=3, data=True)
    size = sizes(args, default={"train": 4000, "test": 1000}, smoke={"train": 32, "test": 32})
    data = load_or_generate(args, lambda n: generate(n, args.rng), size.train, size.test)
    if args.data:
        data = data._replace(
            x_train=[np.where(np.asarray(s) < max_features, s, OUT_OF_VOCABULARY) for s in data.x_train],
            x_test=[np.where(np.asarray(s) < max_features, s, OUT_OF_VOCABULARY) for s in data.x_test])
    x_train = pad_sequences(data.x_train, maxlen=maxlen)
    x_test = pad_sequences(data.x_test, maxlen=maxlen)
    y_train = np.asarray(data.y_train).reshape(-1, 1)
    y_test = np.asarray(data.y_test).reshape(-1, 1)

    model = build_model()
    describe(f"imdb_lstm: {source(args, 'generated reviews')} -> Embedding + LSTM", model,
             f"{len(model.layers)} layers")
    # try using different optimizers and different optimizer configs
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    train(model, x_train, y_train, args, batch_size=batch_size, validation_data=(x_test, y_test))
    evaluate_and_deploy(model, x_test, y_test, args, "imdb_lstm", deploy_samples=256)


if __name__ == "__main__":
    main()
