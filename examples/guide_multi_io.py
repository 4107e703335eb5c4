"""The guide's headline model: two inputs, two outputs, fed by dicts, with loss_weights=[1., 0.2].

The model is the guide's code, written once in the zoo: kir.zoo.guide.multi_io (kir/zoo/guide.py).

It predicts whether a headline does well from its words (main_input, through Embedding + LSTM) and
five extra features (aux_input). The generated data has a signal in both: liked headlines use
"hot" words (ids below vocab/10) four times as often, and the first extra feature is the label
plus noise. main_output sees both and should beat aux_output, which sees only the words.

    python examples/guide_multi_io.py [--smoke] [--full: sequence 100, vocabulary 10000, embedding 512]
"""

import numpy as np
from _common import accuracy, deploy, describe, line, parse_args, sizes, train

from kir.zoo.guide import multi_io


def make_data(n: int, seq_len: int, vocab: int, rng: np.random.Generator) -> tuple:
    labels = rng.integers(0, 2, size=(n, 1))
    hot = rng.random((n, seq_len)) < np.where(labels == 1, 0.2, 0.05)
    headline_data = np.where(hot, rng.integers(1, vocab // 10, size=(n, seq_len)),
                             rng.integers(vocab // 10, vocab, size=(n, seq_len))).astype('int32')
    additional_data = rng.normal(size=(n, 5)).astype('float32')
    additional_data[:, 0] += 1.5 * labels[:, 0]
    return headline_data, additional_data, labels


def main() -> None:
    args = parse_args(__doc__, epochs=5, full=True)
    size = sizes(args, default={"n": 2000, "seq_len": 30, "vocab": 1000, "embed": 64},
                 full={"seq_len": 100, "vocab": 10000, "embed": 512},
                 smoke={"n": 64, "seq_len": 8, "vocab": 100, "embed": 8})
    headline_data, additional_data, labels = make_data(size.n, size.seq_len, size.vocab, args.rng)
    test_headlines, test_additional, test_labels = make_data(max(32, size.n // 4), size.seq_len, size.vocab, args.rng)

    # the guide's headline model: kir.zoo.guide.multi_io
    model = multi_io(size.seq_len, size.vocab, size.embed)
    describe("guide: multi-input multi-output headline model", model,
             f"inputs {model.input_names}, outputs {model.output_names}")
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', loss_weights=[1., 0.2])
    train(model, {'main_input': headline_data, 'aux_input': additional_data},
          {'main_output': labels, 'aux_output': labels}, args, batch_size=32)

    test_x = {'main_input': test_headlines, 'aux_input': test_additional}
    losses = model.evaluate(test_x, {'main_output': test_labels, 'aux_output': test_labels},
                            verbose=0, return_dict=True)
    main_pred, aux_pred = model.predict(test_x, backend='tensorflow')
    line("test metrics", ", ".join(f"{k} {v:.4f}" for k, v in losses.items()) +
         f", main_output accuracy {accuracy(test_labels, main_pred):.4f}, "
         f"aux_output accuracy {accuracy(test_labels, aux_pred):.4f}")
    deploy(model, test_x, args, "guide_multi_io")


if __name__ == "__main__":
    main()
