"""The guide's shared-layer model: one LSTM(64) encodes two tweets, a logistic regression on top.

Tweets are (280, 256) one-hot character matrices in the guide. The guide's head adds the two
encodings up linearly (Dense on a concatenation), so it cannot test the two tweets for *equality*
of authors; the generated task is one it can learn: two authors, a person who types any of the
characters and a bot that favours a few; label 1 when both tweets come from the bot.

    python examples/guide_shared_lstm.py [--smoke] [--full: 280 x 256 tweets]
"""

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed

import kir
from kir.layers import LSTM, Dense, Input
from kir.models import Model


def build_model(timesteps: int = 280, features: int = 256) -> Model:
    tweet_a = Input(shape=(timesteps, features))
    tweet_b = Input(shape=(timesteps, features))

    # This layer can take as input a matrix and will return a vector of size 64
    shared_lstm = LSTM(64)

    # When we reuse the same layer instance multiple times, the weights of the layer are also
    # being reused (it is effectively *the same* layer)
    encoded_a = shared_lstm(tweet_a)
    encoded_b = shared_lstm(tweet_b)

    # We can then concatenate the two vectors:
    merged_vector = kir.layers.concatenate([encoded_a, encoded_b], axis=-1)

    # And add a logistic regression on top
    predictions = Dense(1, activation='sigmoid')(merged_vector)

    # We define a trainable model linking the tweet inputs to the predictions
    return Model(inputs=[tweet_a, tweet_b], outputs=predictions)


def tweets(is_bot: np.ndarray, timesteps: int, features: int, rng: np.random.Generator) -> np.ndarray:
    """One-hot tweets: the person types uniformly, the bot often the first eighth of the alphabet."""
    person = rng.integers(0, features, size=(len(is_bot), timesteps))
    bot = np.where(rng.random((len(is_bot), timesteps)) < 0.3,
                   rng.integers(0, max(2, features // 8), size=(len(is_bot), timesteps)), person)
    chars = np.where(is_bot[:, None], bot, person)
    return np.eye(features, dtype='float32')[chars]


def make_data(n: int, timesteps: int, features: int, rng: np.random.Generator) -> tuple:
    both_bot = rng.random(n) < 0.5  # half the pairs are bot+bot, the rest mixed or person+person
    a_bot = both_bot | (rng.random(n) < 0.33)
    b_bot = both_bot | (~a_bot & (rng.random(n) < 0.5))
    labels = (a_bot & b_bot).astype('float32').reshape(-1, 1)
    return tweets(a_bot, timesteps, features, rng), tweets(b_bot, timesteps, features, rng), labels


def main() -> None:
    args = parse_args(__doc__, epochs=5, full=True)
    size = sizes(args, default={"n": 1000, "timesteps": 40, "features": 64},
                 full={"timesteps": 280, "features": 256}, smoke={"n": 32, "timesteps": 6, "features": 16})
    rng = np.random.default_rng(args.seed)
    data_a, data_b, labels = make_data(size.n, size.timesteps, size.features, rng)
    test_a, test_b, test_labels = make_data(max(32, size.n // 4), size.timesteps, size.features, rng)

    header("guide: shared LSTM on tweet pairs")
    model = build_model(size.timesteps, size.features)
    line("model", f"{model.name}: {model.count_params():,} parameters (one LSTM called twice)")
    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    with timed() as t:
        history = model.fit([data_a, data_b], labels, epochs=args.epochs, verbose=2)
    report_training(history, t.seconds, len(labels))
    report_metrics(model, [test_a, test_b], test_labels)
    line("baseline", f"majority class {max(test_labels.mean(), 1 - test_labels.mean()):.4f}")
    deploy(model, [test_a, test_b], args, "guide_shared_lstm")


if __name__ == "__main__":
    main()
