"""The guide's visual question answering model: a CNN encodes the image, an LSTM the question.

Generated data: a coloured square (red, green or blue) in one of the four quadrants of a noisy
image; a question of random filler words holding one keyword, "colour?" or "where?"; the answer
is one of the 1000 answer words (0-2 the colours, 3-6 the quadrants).

    python examples/guide_vqa.py [--smoke] [--full: 224x224 images, 100-word questions; slow on a CPU]
"""

from types import SimpleNamespace

import numpy as np
from _common import deploy, header, line, parse_args, report_metrics, report_training, sizes, timed

import kir
from kir.layers import LSTM, Conv2D, Dense, Embedding, Flatten, Input, MaxPooling2D
from kir.models import Model, Sequential

COLOUR, WHERE = 1, 2  # the keyword ids; the fillers are ids 10-59


def build_model(image_size: int = 224, question_len: int = 100) -> SimpleNamespace:
    """The guide's code; returns vqa_model and the parts the video QA model reuses."""
    # First, let's define a vision model using a Sequential model.
    # This model will encode an image into a vector.
    vision_model = Sequential()
    vision_model.add(Conv2D(64, (3, 3), activation='relu', padding='same',
                            input_shape=(image_size, image_size, 3)))
    vision_model.add(Conv2D(64, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(128, (3, 3), activation='relu', padding='same'))
    vision_model.add(Conv2D(128, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(256, (3, 3), activation='relu', padding='same'))
    vision_model.add(Conv2D(256, (3, 3), activation='relu'))
    vision_model.add(Conv2D(256, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Flatten())

    # Now let's get a tensor with the output of our vision model:
    image_input = Input(shape=(image_size, image_size, 3))
    encoded_image = vision_model(image_input)

    # Next, let's define a language model to encode the question into a vector.
    # Each question will be at most 100 word long,
    # and we will index words as integers from 1 to 9999.
    question_input = Input(shape=(question_len,), dtype='int32')
    embedded_question = Embedding(input_dim=10000, output_dim=256, input_length=question_len)(question_input)
    encoded_question = LSTM(256)(embedded_question)

    # Let's concatenate the question vector and the image vector:
    merged = kir.layers.concatenate([encoded_question, encoded_image])

    # And let's train a logistic regression over 1000 words on top:
    output = Dense(1000, activation='softmax')(merged)

    # This is our final model:
    vqa_model = Model(inputs=[image_input, question_input], outputs=output)
    return SimpleNamespace(vqa_model=vqa_model, vision_model=vision_model, question_input=question_input,
                           encoded_question=encoded_question)


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
    rng = np.random.default_rng(args.seed)
    images, question_words, answers = make_data(size.n, size.image, size.question, rng)
    test_images, test_questions, test_answers = make_data(max(32, size.n // 4), size.image, size.question, rng)

    header("guide: visual question answering")
    vqa_model = build_model(size.image, size.question).vqa_model
    line("model", f"{vqa_model.name}: {vqa_model.count_params():,} parameters")
    vqa_model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    with timed() as t:
        history = vqa_model.fit([images, question_words], answers, epochs=args.epochs, batch_size=32, verbose=2)
    report_training(history, t.seconds, len(answers))
    report_metrics(vqa_model, [test_images, test_questions], test_answers)
    line("baseline", "guessing the most common answer: about 0.1667")
    deploy(vqa_model, [test_images[:64], test_questions[:64]], args, "guide_vqa")


if __name__ == "__main__":
    main()
