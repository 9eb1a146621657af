"""Sentence boundaries and chunks that fit a token budget: the splitting behind long-document summaries."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest

from common.backends.remote import estimate_tokens
from common.chunking import split_to_fit
from common.sentences import sentence_spans


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


async def count_words(text: str) -> int:
    return len(text.split())


async def count_estimate(text: str) -> int:
    return estimate_tokens(text)


def chunks_of(text: str, budget: int, counter=count_words) -> list[str]:
    return asyncio.run(split_to_fit(text, budget, counter))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It rained. Then it stopped! Did it? Yes.", ["It rained.", "Then it stopped!", "Did it?", "Yes."]),
        ("Pi is 3.14 or so. It costs $3.50 today.", ["Pi is 3.14 or so.", "It costs $3.50 today."]),
        (
            "The tower is 1,063 ft tall. Its base is square.",
            ["The tower is 1,063 ft tall.", "Its base is square."],
        ),
        (
            "Mr. Brown met Dr. Green and Prof. White. They talked.",
            ["Mr. Brown met Dr. Green and Prof. White.", "They talked."],
        ),
        ("J. K. Rowling wrote it. Then she rested.", ["J. K. Rowling wrote it.", "Then she rested."]),
        (
            "The U.S. Senate voted at 5 p.m. Tuesday. It passed.",
            ["The U.S. Senate voted at 5 p.m. Tuesday.", "It passed."],
        ),
        ("Fruit, e.g. apples, is good. So is tea.", ["Fruit, e.g. apples, is good.", "So is tea."]),
        (
            "See No. 5 and Fig. 3 on p. 12. He said no. Then left.",
            ["See No. 5 and Fig. 3 on p. 12.", "He said no.", "Then left."],
        ),
        (
            '"Stop." She did. (It was late.) Then... Nothing.',
            ['"Stop."', "She did.", "(It was late.)", "Then...", "Nothing."],
        ),
        ("It opened on Jan. 5. Crowds came.", ["It opened on Jan. 5.", "Crowds came."]),
        (
            "A heading without a stop\n\nA paragraph. Another one",
            ["A heading without a stop", "A paragraph.", "Another one"],
        ),
        ("lines wrap\nmid sentence. And go on", ["lines wrap\nmid sentence.", "And go on"]),
        ("  padded.   ", ["padded."]),
        ("", []),
        (" \n\n ", []),
    ],
)
def test_sentences_end_where_a_reader_pauses(text, expected):
    assert sentences(text) == expected


def test_sentence_spans_are_in_order_and_cover_every_word():
    text = "First one. Second, with Mr. Smith.\n\nThird para! Fourth?  Fifth 2.5 units."
    spans = sentence_spans(text)

    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    assert " ".join(text[start:end] for start, end in spans).split() == text.split()


def test_text_that_fits_is_one_chunk_as_it_is():
    text = "  Short text. Two sentences.  "
    assert chunks_of(text, 100) == [text]


def test_sentences_are_packed_in_order_and_never_split_when_they_fit():
    text = "One two three. Four five. Six seven eight nine. Ten. Eleven twelve thirteen."

    chunks = chunks_of(text, 5)

    assert chunks == ["One two three. Four five.", "Six seven eight nine. Ten.", "Eleven twelve thirteen."]


def test_a_sentence_over_the_budget_alone_is_split_between_words():
    text = "Short one. " + " ".join(f"W{n}" for n in range(11)) + ". Last one."

    chunks = chunks_of(text, 4)

    assert chunks == ["Short one.", "W0 W1 W2 W3", "W4 W5 W6 W7", "W8 W9 W10.", "Last one."]


def test_a_word_over_the_budget_alone_is_split_between_characters():
    async def characters(text: str) -> int:
        return len(text)

    assert chunks_of("Tiny. Abcdefghij. End.", 4, characters) == ["Tiny", ".", "Abcd", "efgh", "ij.", "End."]


def test_a_budget_below_one_token_is_a_programming_error():
    with pytest.raises(ValueError, match="at least one token"):
        chunks_of("Some text.", 0)


def random_document(rng: random.Random) -> str:
    """Sentences of 1 to 60 words, some long enough to need splitting, in paragraphs."""
    paragraphs = []
    for _ in range(rng.randint(1, 6)):
        sentences = []
        for _ in range(rng.randint(1, 15)):
            words = [
                rng.choice(["tower", "Paris", "built", "3.5", "metres", "Mr.", "the"]) for _ in range(60)
            ]
            sentences.append("Word " + " ".join(words[: rng.randint(0, 59)]) + rng.choice(".!?"))
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("counter", [count_words, count_estimate])
def test_chunks_fit_keep_order_and_split_only_sentences_too_long_alone(seed, counter):
    rng = random.Random(seed)
    text = random_document(rng)
    budget = rng.randint(8, 120)

    def count(piece: str) -> int:
        return asyncio.run(counter(piece))

    chunks = chunks_of(text, budget, counter)

    assert all(count(chunk) <= budget for chunk in chunks)
    assert " ".join(chunks).split() == text.split(), "every word once, in order"
    placed, cursor = [], 0
    for chunk in chunks:  # chunks are slices of the text, in order
        start = text.index(chunk, cursor)
        placed.append((start, start + len(chunk)))
        cursor = start + len(chunk)
    fitting = [(start, end) for start, end in sentence_spans(text) if count(text[start:end]) <= budget]
    for start, end in fitting:
        assert any(a <= start and end <= b for a, b in placed), f"split though it fits: {text[start:end]!r}"
    fitting_ends, fitting_by_start = {end for _, end in fitting}, dict(fitting)
    for (start, end), (next_start, _) in itertools.pairwise(placed):
        if end in fitting_ends and next_start in fitting_by_start:
            assert count(text[start : fitting_by_start[next_start]]) > budget, "closed while the next fitted"


def test_a_long_text_needs_few_counts_per_chunk():
    calls = 0

    async def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text.split())

    text = " ".join(f"Sentence number {n} is here." for n in range(400))  # 2,000 words

    chunks = chunks_of(text, 200, counting)

    assert len(chunks) == 10
    sentences_per_chunk = 40
    assert calls <= 1 + len(chunks) * 2 * math.ceil(math.log2(sentences_per_chunk)), (
        "a few counts per chunk, not one per sentence"
    )
