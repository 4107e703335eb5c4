"""The guide's video question answering model: the VQA vision model over every frame, then an LSTM.

It reuses the VQA model's parts as the guide does: `TimeDistributed(vision_model)` encodes the
frames with the vision model's weights, and `question_encoder` wraps the VQA question LSTM (here
they are trained together with the video model). Generated videos show a coloured square moving
left, right, up or down; a question holds the keyword "colour?" or "which way?"; the answer is
one of the 1000 answer words (0-2 the colours, 7-10 the directions).

The model is the guide's code, written once in the zoo: kir.zoo.guide.video_qa (kir/zoo/guide.py),
built on the parts of kir.zoo.guide.vqa_parts.

    python examples/guide_video_qa.py [--smoke] [--full: 100 frames of 224x224, 100-word questions]

--full builds the guide's model (about 1.3 GB of weights) and trains it on a few videos, one at a
time: a job for a GPU, hours on a CPU.
"""

import numpy as np
from _common import describe, evaluate_and_deploy, parse_args, sizes, train
from guide_vqa import COLOUR, MOST_COMMON_ANSWER, WHERE, draw_square, questions

import kir
from kir.zoo.guide import video_qa

DIRECTIONS = [(0, -1), (0, 1), (-1, 0), (1, 0)]  # left, right, up, down as (row, column) steps


def make_data(n: int, frames: int, size: int, question_len: int, rng: np.random.Generator) -> tuple:
    colour = rng.integers(0, 3, size=n)
    direction = rng.integers(0, 4, size=n)
    side = max(2, size // 4)
    step = max(1, (size - side) // max(1, frames - 1))
    videos = rng.normal(0, 0.1, size=(n, frames, size, size, 3)).astype('float32')
    for i in range(n):
        dr, dc = DIRECTIONS[direction[i]]
        travel = step * (frames - 1)
        top = rng.integers(0, size - side + 1) if dr == 0 else (0 if dr > 0 else size - side)
        left = rng.integers(0, size - side + 1) if dc == 0 else (0 if dc > 0 else size - side)
        for f in range(frames):
            r = int(np.clip(top + dr * f * step, 0, size - side)) if travel else top
            c = int(np.clip(left + dc * f * step, 0, size - side)) if travel else left
            draw_square(videos[i, f], r, c, side, colour[i])
    kind = rng.choice([COLOUR, WHERE], size=n)
    answers = np.where(kind == COLOUR, colour, 7 + direction)
    return videos, questions(kind, question_len, rng), kir.utils.to_categorical(answers, 1000)


def main() -> None:
    args = parse_args(__doc__, epochs=6, full=True)
    size = sizes(args, default={"n": 800, "frames": 2, "image": 32, "question": 10},
                 full={"n": 4, "frames": 100, "image": 224, "question": 100},
                 smoke={"n": 8, "frames": 2, "image": 32, "question": 4})
    videos, question_words, answers = make_data(size.n, size.frames, size.image, size.question, args.rng)
    test_videos, test_questions, test_answers = make_data(max(4, size.n // 4), size.frames, size.image,
                                                          size.question, args.rng)

    # the guide's video question answering model: kir.zoo.guide.video_qa
    video_qa_model = video_qa(size.frames, size.image, size.question)
    describe("guide: video question answering", video_qa_model,
             f"{size.frames} frames of {size.image}x{size.image}")
    video_qa_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    train(video_qa_model, [videos, question_words], answers, args, batch_size=1 if args.full else 32)
    evaluate_and_deploy(video_qa_model, [test_videos, test_questions], test_answers, args, "guide_video_qa",
                        baseline=MOST_COMMON_ANSWER, deploy_samples=32)


if __name__ == "__main__":
    main()
