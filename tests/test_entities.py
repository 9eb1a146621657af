"""Whole-entity merging over both reply shapes of token classification."""

import logging

import pytest

from common.entities import Entity, highlight, merge_entities

TEXT = "My name is Andrew, I'm building DeepLearningAI and I live in New York"


def span(text: str, word: str) -> tuple[int, int]:
    start = text.index(word)
    return start, start + len(word)


def piece(tag: str, text: str, word: str, offset: int = 0, score: float = 0.9) -> dict:
    start = text.index(word.removeprefix("##"), offset)
    return {
        "entity": tag,
        "score": score,
        "word": word,
        "start": start,
        "end": start + len(word.removeprefix("##")),
    }


def company_pieces(*tagged: tuple[str, str, float]) -> list[dict]:
    """Word pieces of "DeepLearningAI" in TEXT, each given as (tag, piece, score)."""
    at = TEXT.index("DeepLearningAI")
    return [piece(tag, TEXT, word, at, score) for tag, word, score in tagged]


def test_grouped_shape_keeps_spans_and_labels():
    reply = [
        {"entity_group": "PER", "score": 0.99, "word": "Andrew", "start": 11, "end": 17},
        {"entity_group": "LOC", "score": 0.98, "word": "New York", "start": 61, "end": 69},
    ]
    assert merge_entities(TEXT, reply) == [
        Entity("PER", 11, 17, "Andrew", 0.99),
        Entity("LOC", 61, 69, "New York", 0.98),
    ]


def test_word_pieces_make_one_entity_with_the_mean_score():
    reply = company_pieces(
        ("B-ORG", "Deep", 0.9), ("I-ORG", "##Lear", 0.8), ("I-ORG", "##ning", 0.7), ("I-ORG", "##AI", 0.6)
    )
    [entity] = merge_entities(TEXT, reply)
    assert (entity.label, entity.text) == ("ORG", "DeepLearningAI")
    assert entity.score == pytest.approx(0.75)


def test_a_word_piece_never_starts_a_new_entity_even_when_tagged_b():
    reply = company_pieces(("B-ORG", "Deep", 0.9), ("B-ORG", "##Lear", 0.9), ("B-MISC", "##ningAI", 0.9))
    assert [(e.label, e.text) for e in merge_entities(TEXT, reply)] == [("ORG", "DeepLearningAI")]


@pytest.mark.parametrize(
    ("text", "tagged", "expected"),
    [
        (TEXT, [("B-LOC", "New"), ("I-LOC", "York")], [("LOC", "New York")]),
        ("Paris London", [("B-LOC", "Paris"), ("B-LOC", "London")], [("LOC", "Paris"), ("LOC", "London")]),
        ("Andrew Google", [("B-PER", "Andrew"), ("I-ORG", "Google")], [("PER", "Andrew"), ("ORG", "Google")]),
        ("Ann met Smith", [("B-PER", "Ann"), ("I-PER", "Smith")], [("PER", "Ann"), ("PER", "Smith")]),
        ("Jean-Pierre lives here", [("B-PER", "Jean"), ("I-PER", "Pierre")], [("PER", "Jean-Pierre")]),
    ],
    ids=[
        "adjacent-words-keep-the-text-between-them",
        "b-tag-starts-a-new-entity-of-the-same-type",
        "adjacent-entities-of-different-types-stay-apart",
        "i-tag-does-not-bridge-other-words",
        "hyphenated-names-join-across-the-hyphen",
    ],
)
def test_tagged_words_make_whole_entities(text, tagged, expected):
    """Adjacent words keep the text between them; a B tag, another type or a word between end an entity."""
    reply = [piece(tag, text, word) for tag, word in tagged]
    assert [(e.label, e.text) for e in merge_entities(text, reply)] == expected


def test_o_pieces_close_an_entity_and_their_word_pieces_stay_outside():
    text = "Vienna is nice"
    reply = [
        piece("B-LOC", text, "Vienna"),
        piece("O", text, "is"),
        {"entity": "I-LOC", "score": 0.5, "word": "##s", "start": 8, "end": 9},
    ]
    assert [e.text for e in merge_entities(text, reply)] == ["Vienna"]


def test_pieces_without_offsets_are_located_in_the_text():
    reply = [
        {"entity": "B-LOC", "score": 0.9, "word": "new"},
        {"entity": "I-LOC", "score": 0.9, "word": "york"},
    ]
    assert [e.text for e in merge_entities(TEXT, reply)] == ["New York"]


def test_out_of_range_offsets_are_ignored():
    reply = [{"entity_group": "PER", "score": 0.9, "word": "x", "start": 500, "end": 505}]
    assert merge_entities(TEXT, reply) == []


def test_highlight_is_the_highlightedtext_value():
    entities = [Entity("LOC", 61, 69, "New York", 0.9)]
    assert highlight(TEXT, entities) == {
        "text": TEXT,
        "entities": [{"entity": "LOC", "start": 61, "end": 69}],
    }


# The server's offsets are checked against its `word`.


def test_an_entity_whose_offsets_overrun_its_word_is_cut_back_to_the_word():
    reply = [{"entity_group": "PER", "score": 0.99, "word": "Andrew", "start": 11, "end": 31}]
    assert [(e.label, e.text, e.start, e.end) for e in merge_entities(TEXT, reply)] == [
        ("PER", "Andrew", 11, 17)
    ]


def test_an_entity_whose_word_is_not_in_the_text_is_left_out_with_one_warning(caplog):
    reply = [
        {"entity_group": "PER", "score": 0.99, "word": "Andrew", "start": 11, "end": 17},
        {"entity_group": "ORG", "score": 0.9, "word": "Google", "start": 32, "end": 38},
        {"entity_group": "LOC", "score": 0.9, "word": "Paris", "start": 61, "end": 66},
    ]
    with caplog.at_level(logging.WARNING, logger="common"):
        entities = merge_entities(TEXT, reply)
    assert [(e.label, e.text) for e in entities] == [("PER", "Andrew")]
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("common", "WARNING", "Left out 2 of 3 entities of the NER reply that could not be found in the text")
    ]


def test_a_correct_reply_is_kept_as_given_and_logs_nothing(caplog):
    reply = [
        {"entity_group": "PER", "score": 0.99, "word": "Andrew", "start": 11, "end": 17},
        *company_pieces(("B-ORG", "Deep", 0.9), ("I-ORG", "##LearningAI", 0.9)),
        {"entity_group": "LOC", "score": 0.98, "word": "new york", "start": 61, "end": 69},
    ]
    with caplog.at_level(logging.WARNING, logger="common"):
        entities = merge_entities(TEXT, reply)
    assert [(e.label, e.text, e.start, e.end) for e in entities] == [
        ("PER", "Andrew", 11, 17),
        ("ORG", "DeepLearningAI", 32, 46),
        ("LOC", "New York", 61, 69),
    ]
    assert caplog.records == []


def test_tokenizer_spacing_in_the_word_still_matches_the_text():
    text = "Jean-Pierre lives in New York"
    reply = [
        {"entity_group": "PER", "score": 0.9, "word": "Jean - Pierre", "start": 0, "end": 11},
        {"entity_group": "LOC", "score": 0.9, "word": "NewYork", "start": 21, "end": 29},
    ]
    assert [(e.text, e.start, e.end) for e in merge_entities(text, reply)] == [
        ("Jean-Pierre", 0, 11),
        ("New York", 21, 29),
    ]


def test_a_misplaced_word_moves_to_its_nearest_occurrence():
    text = "Andrew met Andrew"
    reply = [{"entity_group": "PER", "score": 0.9, "word": "andrew", "start": 13, "end": 17}]
    assert [(e.text, e.start, e.end) for e in merge_entities(text, reply)] == [("Andrew", 11, 17)]


def test_a_misplaced_word_is_looked_for_after_the_previous_entity():
    text = "Paris, then Lyon, then Paris again"
    reply = [
        {"entity_group": "LOC", "score": 0.9, "word": "Paris", "start": 0, "end": 5},
        {"entity_group": "LOC", "score": 0.9, "word": "Lyon", "start": 12, "end": 16},
        {"entity_group": "LOC", "score": 0.9, "word": "Paris", "start": 3, "end": 8},
    ]
    assert [(e.text, e.start, e.end) for e in merge_entities(text, reply)] == [
        ("Paris", 0, 5),
        ("Lyon", 12, 16),
        ("Paris", 23, 28),
    ]


def test_a_word_found_only_before_the_previous_entity_is_left_out():
    reply = [
        {"entity_group": "LOC", "score": 0.9, "word": "New York", "start": 61, "end": 69},
        {"entity_group": "PER", "score": 0.9, "word": "Andrew", "start": 62, "end": 68},
    ]
    assert [(e.label, e.text) for e in merge_entities(TEXT, reply)] == [("LOC", "New York")]


def test_word_pieces_with_shifted_offsets_still_make_one_entity():
    reply = company_pieces(("B-ORG", "Deep", 0.9), ("I-ORG", "##Lear", 0.9), ("I-ORG", "##ningAI", 0.9))
    shifted = [{**item, "start": item["start"] + 3, "end": item["end"] + 3} for item in reply]
    assert [(e.label, e.text, e.start, e.end) for e in merge_entities(TEXT, shifted)] == [
        ("ORG", "DeepLearningAI", 32, 46)
    ]


def test_an_item_without_a_word_keeps_its_offsets_when_they_are_inside_the_text():
    reply = [
        {"entity_group": "PER", "score": 0.9, "start": 11, "end": 17},
        {"entity_group": "LOC", "score": 0.9, "start": 61, "end": 90},
    ]
    assert [(e.label, e.text, e.start, e.end) for e in merge_entities(TEXT, reply)] == [
        ("PER", "Andrew", 11, 17)
    ]
