"""Whole-entity merging over both reply shapes of token classification."""

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
    at = TEXT.index("DeepLearningAI")
    reply = [
        piece("B-ORG", TEXT, "Deep", at, 0.9),
        piece("I-ORG", TEXT, "##Lear", at, 0.8),
        piece("I-ORG", TEXT, "##ning", at, 0.7),
        piece("I-ORG", TEXT, "##AI", at, 0.6),
    ]
    [entity] = merge_entities(TEXT, reply)
    assert (entity.label, entity.text) == ("ORG", "DeepLearningAI")
    assert entity.score == pytest.approx(0.75)


def test_a_word_piece_never_starts_a_new_entity_even_when_tagged_b():
    at = TEXT.index("DeepLearningAI")
    reply = [
        piece("B-ORG", TEXT, "Deep", at),
        piece("B-ORG", TEXT, "##Lear", at),
        piece("B-MISC", TEXT, "##ningAI", at),
    ]
    assert [(e.label, e.text) for e in merge_entities(TEXT, reply)] == [("ORG", "DeepLearningAI")]


def test_adjacent_words_keep_the_text_between_them():
    reply = [piece("B-LOC", TEXT, "New"), piece("I-LOC", TEXT, "York")]
    assert [e.text for e in merge_entities(TEXT, reply)] == ["New York"]


def test_b_tag_starts_a_new_entity_of_the_same_type():
    text = "Paris London"
    reply = [piece("B-LOC", text, "Paris"), piece("B-LOC", text, "London")]
    assert [e.text for e in merge_entities(text, reply)] == ["Paris", "London"]


def test_adjacent_entities_of_different_types_stay_apart():
    text = "Andrew Google"
    reply = [piece("B-PER", text, "Andrew"), piece("I-ORG", text, "Google")]
    assert [(e.label, e.text) for e in merge_entities(text, reply)] == [("PER", "Andrew"), ("ORG", "Google")]


def test_i_tag_does_not_bridge_other_words():
    text = "Andrew met Smith"
    reply = [piece("B-PER", text, "Andrew"), piece("I-PER", text, "Smith")]
    assert [e.text for e in merge_entities(text, reply)] == ["Andrew", "Smith"]


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


def test_hyphenated_names_join_across_the_hyphen():
    text = "Jean-Pierre lives here"
    reply = [piece("B-PER", text, "Jean"), piece("I-PER", text, "Pierre")]
    assert [e.text for e in merge_entities(text, reply)] == ["Jean-Pierre"]


def test_out_of_range_offsets_are_ignored():
    reply = [{"entity_group": "PER", "score": 0.9, "word": "x", "start": 500, "end": 505}]
    assert merge_entities(TEXT, reply) == []


def test_highlight_is_the_highlightedtext_value():
    entities = [Entity("LOC", 61, 69, "New York", 0.9)]
    assert highlight(TEXT, entities) == {
        "text": TEXT,
        "entities": [{"entity": "LOC", "start": 61, "end": 69}],
    }
