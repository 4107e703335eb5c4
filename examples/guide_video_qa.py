"""The guide's video question answering model: the VQA vision model over every frame, then an LSTM.

It reuses the VQA model's parts as the guide does: `TimeDistributed(vision_model)` encodes the
frames with the vision model's weights, and `question_encoder` wraps the VQA question LSTM (here
they are trained together with the video model). Generated videos show a coloured square moving
left, right, up or down; a question holds the keyword "colour?" or "which way?"; the answer is
one of the 1000 answer words (0-2 the colours, 7-10 the directions).

    python examples/guide_video_qa.py [--smoke] [--full: 100 frames of 224x224, 100-word questions]

--full builds the guide's model (about 1.3 GB of weights) and trains it on a few videos, one at a
time: a job for a GPU, hours on a CPU.
"""

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed
from guide_vqa import COLOUR, WHERE, build_model, draw_square, questions

import kir
from kir.layers import LSTM, Dense, Input, TimeDistributed
from kir.models import Model

DIRECTIONS = [(0, -1), (0, 1), (-1, 0), (1, 0)]  # left, right, up, down as (row, column) steps


def build_video_model(frames: int = 100, image_size: int = 224, question_len: int = 100) -> Model:
    vqa = build_model(image_size, question_len)
    vision_model, question_input, encoded_question = vqa.vision_model, vqa.question_input, vqa.encoded_question

    video_input = Input(shape=(frames, image_size, image_size, 3))
    # This is our video encoded via the previously trained vision_model (weights are reused)
    encoded_frame_sequence = TimeDistributed(vision_model)(video_input)  # the output will be a sequence of vectors
    encoded_video = LSTM(256)(encoded_frame_sequence)  # the output will be a vector

    # This is a model-level representation of the question encoder, reusing the same weights as before:
    question_encoder = Model(inputs=question_input, outputs=encoded_question)

    # Let's use it to encode the question:
    video_question_input = Input(shape=(question_len,), dtype='int32')
    encoded_video_question = question_encoder(video_question_input)

    # And this is our video question answering model:
    merged = kir.layers.concatenate([encoded_video, encoded_video_question])
    output = Dense(1000, activation='softmax')(merged)
    video_qa_model = Model(inputs=[video_input, video_question_input], outputs=output)
    return video_qa_model


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
    rng = np.random.default_rng(args.seed)
    videos, question_words, answers = make_data(size.n, size.frames, size.image, size.question, rng)
    test_videos, test_questions, test_answers = make_data(max(4, size.n // 4), size.frames, size.image,
                                                          size.question, rng)

    header("guide: video question answering")
    video_qa_model = build_video_model(size.frames, size.image, size.question)
    line("model", f"{video_qa_model.name}: {size.frames} frames of {size.image}x{size.image}, "
                  f"{video_qa_model.count_params():,} parameters")
    video_qa_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    with timed() as t:
        history = video_qa_model.fit([videos, question_words], answers, epochs=args.epochs,
                                     batch_size=1 if args.full else 32, verbose=2)
    report_training(history, t.seconds, len(answers))
    report_metrics(video_qa_model, [test_videos, test_questions], test_answers)
    line("baseline", "guessing the most common answer: about 0.1667")
    deploy(video_qa_model, [test_videos[:32], test_questions[:32]], args, "guide_video_qa")


if __name__ == "__main__":
    main()
