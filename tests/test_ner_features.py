"""The NER app's confidence threshold, entity table and `/entities` JSON, through gradio_client.

The test inference server scores deterministically (`ner_pieces`, `ner_grouped`), so the entities
and scores the app should show are computed from what the server answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from common.entities import merge_entities
from common.tasks.ner import ENTITY_COLORS, SCORE_DECIMALS
from scripts.serve import load_app
from testing.apps import settings_from
from testing.inference_server import InferenceTestServer, ner_grouped, ner_misaligned, ner_pieces
from tests.conftest import TEST_TOKEN
from tests.harness import app_fixture

if TYPE_CHECKING:
    pass

TEXT = "My name is Andrew, I'm building DeepLearningAI and I live in New York"
ENTITY_TYPES = {"PER", "ORG", "LOC", "MISC"}
ENGLISH_HEADERS = ["Type", "Text", "Score", "Start", "End"]
REPLY_SHAPES = {"pieces": ner_pieces, "grouped": ner_grouped}


ner_app = app_fixture("ner", "remote_settings")


def expected_entities(shape: str, threshold: float = 0.0) -> list[dict]:
    entities = merge_entities(TEXT, REPLY_SHAPES[shape](TEXT))
    return [entity.to_dict() for entity in entities if entity.score >= threshold]


def labelled(spans: list[dict]) -> list[tuple[str, str]]:
    return [(span["token"], span["class_or_confidence"]) for span in spans if span["class_or_confidence"]]


@pytest.mark.parametrize("shape", REPLY_SHAPES)
def test_entities_returns_each_whole_entity_as_json(ner_app, server, shape):
    server.ner_shape = shape

    entities = ner_app.predict(TEXT, api_name="/entities")

    assert entities == expected_entities(shape)
    assert [entity["label"] for entity in entities] == ["PER", "ORG", "LOC"]
    assert all(TEXT[entity["start"] : entity["end"]] == entity["text"] for entity in entities)
    [request] = server.requests_for("ner")
    assert request.headers["authorization"] == f"Bearer {TEST_TOKEN}"


@pytest.mark.parametrize("shape", REPLY_SHAPES)
def test_the_threshold_keeps_only_entities_scored_at_or_above_it(ner_app, server, shape):
    server.ner_shape = shape
    scores = [entity["score"] for entity in expected_entities(shape)]
    threshold = sorted(scores)[1]  # keeps the two most confident of the three

    entities = ner_app.predict(TEXT, threshold, api_name="/entities")
    spans = ner_app.predict(TEXT, threshold, api_name="/ner")

    assert entities == expected_entities(shape, threshold) and len(entities) == 2
    assert labelled(spans) == [(entity["text"], entity["label"]) for entity in entities]
    assert "".join(span["token"] for span in spans) == TEXT, "dropped entities stay as plain text"


def test_ner_without_a_threshold_is_unchanged(ner_app, server):
    spans = ner_app.predict(TEXT, api_name="/ner")

    assert ner_app.predict(TEXT, 0.0, api_name="/ner") == spans
    assert labelled(spans) == [("Andrew", "PER"), ("DeepLearningAI", "ORG"), ("New York", "LOC")]


def test_the_table_lists_the_highlighted_entities_and_follows_the_threshold(ner_app, server):
    server.ner_shape = "grouped"
    entities = expected_entities("grouped")

    spans, table = ner_app.predict(TEXT, 0.0, api_name="/find_entities")

    assert table["headers"] == ENGLISH_HEADERS
    rows = [
        [e["label"], e["text"], round(e["score"], SCORE_DECIMALS), e["start"], e["end"]] for e in entities
    ]
    assert table["data"] == rows
    assert labelled(spans) == [(row[1], row[0]) for row in rows]

    # Moving the threshold filters the entities found, without asking the model again.
    spans, table = ner_app.predict(entities[0]["score"], api_name="/show_entities")

    assert table["data"] == rows[:1]
    assert labelled(spans) == [("Andrew", "PER")]
    assert len(server.requests_for("ner")) == 1


def test_entities_whose_offsets_overrun_their_word_are_cut_back_to_it(ner_app, server):
    server.ner_shape = "misaligned"
    server_spans = [TEXT[item["start"] : item["end"]] for item in ner_misaligned(TEXT)]
    assert server_spans == ["Andrew, I'm building", "DeepLearningAI and I", "New York"]

    entities = ner_app.predict(TEXT, api_name="/entities")
    spans = ner_app.predict(TEXT, api_name="/ner")

    assert [(e["label"], e["text"], e["start"], e["end"]) for e in entities] == [
        ("PER", "Andrew", 11, 17),
        ("ORG", "DeepLearningAI", 32, 46),
        ("LOC", "New York", 61, 69),
    ]
    assert labelled(spans) == [("Andrew", "PER"), ("DeepLearningAI", "ORG"), ("New York", "LOC")]
    assert "".join(span["token"] for span in spans) == TEXT


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(1.5, "threshold must be between 0 and 1, not 1.5"), ("high", "threshold must be a number")],
)
def test_a_bad_threshold_is_refused_before_the_model(ner_app, server, threshold, expected):
    with pytest.raises(AppError, match=expected):
        ner_app.predict(TEXT, threshold, api_name="/entities")
    assert server.requests_for("ner") == []


def test_messages_and_table_headings_follow_the_visitors_language(ner_app, server):
    chinese = Client(ner_app.src, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    with pytest.raises(AppError, match="文本为空"):
        chinese.predict("   ", api_name="/entities")
    _, table = chinese.predict(TEXT, 0.0, api_name="/find_entities")

    assert table["headers"] == ["类型", "文本", "置信度", "起始位置", "结束位置"]


local_ner_app = app_fixture("ner", "local_settings")


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_a_local_model_lists_entities_and_applies_the_threshold(local_ner_app):
    entities = local_ner_app.predict(TEXT, api_name="/entities")

    assert entities, "the tiny model finds some entities in this sentence"
    assert all(set(entity) == {"label", "text", "score", "start", "end"} for entity in entities)
    assert {entity["label"] for entity in entities} <= ENTITY_TYPES
    assert all(TEXT[entity["start"] : entity["end"]] == entity["text"] for entity in entities)
    assert all(0 <= entity["score"] <= 1 for entity in entities)
    assert [entity["start"] for entity in entities] == sorted(entity["start"] for entity in entities)

    threshold = sorted(entity["score"] for entity in entities)[len(entities) // 2]
    kept = local_ner_app.predict(TEXT, threshold, api_name="/entities")
    spans = local_ner_app.predict(TEXT, threshold, api_name="/ner")

    assert kept == [entity for entity in entities if entity["score"] >= threshold]
    assert labelled(spans) == [(entity["text"], entity["label"]) for entity in kept]


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_a_local_model_fills_the_table(local_ner_app):
    entities = local_ner_app.predict(TEXT, api_name="/entities")

    _, table = local_ner_app.predict(TEXT, 0.0, api_name="/find_entities")

    assert [row[:2] + row[3:] for row in table["data"]] == [
        [entity["label"], entity["text"], entity["start"], entity["end"]] for entity in entities
    ]


def test_the_page_shows_a_legend_of_the_entity_types_in_their_colours(inference_server: InferenceTestServer):
    demo = load_app("ner").build_demo(settings_from({**inference_server.env(), "HF_TOKEN": TEST_TOKEN}))
    legends = [block.value for block in demo.blocks.values() if isinstance(block, gr.HTML)]
    assert any(
        all(label in html and color in html for label, color in ENTITY_COLORS.items()) for html in legends
    )
