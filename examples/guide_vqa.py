"""The guide's visual question answering model: a CNN encodes the image, an LSTM the question.

Generated data: a coloured square (red, green or blue) in one of the four quadrants of a noisy
image; a question of random filler words holding one keyword, "colour?" or "where?"; the answer
is one of the 1000 answer words (0-2 the colours, 3-6 the quadrants).

The model is the guide's code, written once in the zoo: kir.zoo.guide.vqa (kir/zoo/guide.py;
`vqa_parts` also returns the vision model and question encoder that guide_video_qa.py reuses).

    python examples/guide_vqa.py [--smoke] [--full: 224x224 images, 100-word questions; slow on a CPU]
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train

import kir
from kir.zoo.guide import vqa

COLOUR, WHERE = 1, 2  # the keyword ids; the fillers are ids 10-59
MOST_COMMON_ANSWER = "guessing the most common answer: about 0.1667"


def draw_square(canvas: np.ndarray, top: int, left: int, side: int, colour: int) -> None:
    canvas[top:top + side, left:left + side, colour] += 1.0


def questions(kind: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Filler words (a small vocabulary, so a question cannot be memorised by its words) with the
    keyword `kind` (COLOUR or WHERE) at a random position."""
    words = rng.integers(10, 60, size=(len(kind), length)).astype('int32')
    words[np.arange(len(kind)), rng.integers(0, length, size=len(kind))] = kind
    return words


def make_data(n: int, size: int, question_len: int, rng: np.random.Generator) -> tuple:
    colour = rng.integers(0, 3, size=n)
    quadrant = rng.integers(0, 4, size=n)
    side, half = max(2, size // 4), size // 2
    images = rng.normal(0, 0.1, size=(n, size, size, 3)).astype('float32')
    for i in range(n):
        top = (quadrant[i] // 2) * half + rng.integers(0, half - side + 1)
        left = (quadrant[i] % 2) * half + rng.integers(0, half - side + 1)
        draw_square(images[i], top, left, side, colour[i])
    kind = rng.choice([COLOUR, WHERE], size=n)
    answers = np.where(kind == COLOUR, colour, 3 + quadrant)
    return images, questions(kind, question_len, rng), kir.utils.to_categorical(answers, 1000)


def main() -> None:
    args = parse_args(__doc__, epochs=5, full=True)
    size = sizes(args, default={"n": 1000, "image": 32, "question": 10},
                 full={"n": 200, "image": 224, "question": 100}, smoke={"n": 16, "image": 32, "question": 4})
    images, question_words, answers = make_data(size.n, size.image, size.question, args.rng)
    test_images, test_questions, test_answers = make_data(max(32, size.n // 4), size.image, size.question, args.rng)

    # the guide's visual question answering model: kir.zoo.guide.vqa
    vqa_model = vqa(size.image, size.question)
    describe("guide: visual question answering", vqa_model)
    vqa_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    train(vqa_model, [images, question_words], answers, args, batch_size=32)
    evaluate_and_deploy(vqa_model, [test_images, test_questions], test_answers, args, "guide_vqa",
                        baseline=MOST_COMMON_ANSWER, deploy_samples=64)


if __name__ == "__main__":
    main()
