"""The guide's shared-layer model: one LSTM(64) encodes two tweets, a logistic regression on top.

The model is the guide's code, written once in the zoo: kir.zoo.guide.shared_lstm (kir/zoo/guide.py).

Tweets are (280, 256) one-hot character matrices in the guide. The guide's head adds the two
encodings up linearly (Dense on a concatenation), so it cannot test the two tweets for *equality*
of authors; the generated task is one it can learn: two authors, a person who types any of the
characters and a bot that favours a few; label 1 when both tweets come from the bot.

    python examples/guide_shared_lstm.py [--smoke] [--full: 280 x 256 tweets]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, majority_class, parse_args, sizes, train

from kir.zoo.guide import shared_lstm


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
    data_a, data_b, labels = make_data(size.n, size.timesteps, size.features, args.rng)
    test_a, test_b, test_labels = make_data(max(32, size.n // 4), size.timesteps, size.features, args.rng)

    # the guide's shared LSTM: kir.zoo.guide.shared_lstm
    model = shared_lstm(size.timesteps, size.features)
    describe("guide: shared LSTM on tweet pairs", model, "one LSTM called twice")
    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    train(model, [data_a, data_b], labels, args)
    evaluate_and_deploy(model, [test_a, test_b], test_labels, args, "guide_shared_lstm",
                        baseline=majority_class(test_labels))


if __name__ == "__main__":
    main()
