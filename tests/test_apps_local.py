"""Every app on the local backend: tiny random-weight models of the real architectures, in-process.

Outputs of random weights are noise, so these tests check structure: a summary string, spans with
valid offsets, an image of the requested size that the seed reproduces, a stream that grows.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from gradio_client import handle_file
from PIL import Image

from testing.apps import settings_from
from tests.harness import ROOT, app_fixtures

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("hub_offline")]

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
LION = ROOT / "spaces/caption/examples/lion.jpg"
ENTITY_TYPES = {"PER", "ORG", "LOC", "MISC"}


summarize_app, ner_app, caption_app, imagegen_app, game_app, chatbot_app = app_fixtures("local_settings")


def test_auto_picks_local_without_token_or_endpoint(tiny_models):
    settings = settings_from({"SUMMARY_MODEL": str(tiny_models.summarize)})
    assert settings.backend_for("summarize") == "local"


def test_summarize_returns_a_summary(summarize_app):
    summary = summarize_app.predict(EIFFEL, 8, 24, api_name="/summarize")

    assert isinstance(summary, str) and summary.strip()


def test_ner_returns_spans_that_tile_the_text(ner_app):
    text = "My name is Andrew, I'm building DeepLearningAI and I live in California"

    spans = ner_app.predict(text, api_name="/ner")

    assert "".join(span["token"] for span in spans) == text
    labels = {span["class_or_confidence"] for span in spans} - {None}
    assert labels and labels <= ENTITY_TYPES, "whole entities with prefix-free labels"


def test_caption_describes_an_image(caption_app):
    caption = caption_app.predict(handle_file(str(LION)), api_name="/caption")

    assert isinstance(caption, str) and caption.strip()


def test_imagegen_makes_an_image_of_the_requested_size_that_the_seed_reproduces(imagegen_app):
    first, seed = imagegen_app.predict("a lighthouse", "fog", 2, 7, 72, 64, 1234, api_name="/generate")
    again, _ = imagegen_app.predict("a lighthouse", "fog", 2, 7, 72, 64, 1234, api_name="/generate")
    other, _ = imagegen_app.predict("a lighthouse", "fog", 2, 7, 72, 64, 4321, api_name="/generate")

    assert seed == 1234
    images = [Image.open(path).convert("RGB") for path in (first, again, other)]
    assert images[0].size == (72, 64)
    assert images[0].tobytes() == images[1].tobytes()
    assert images[0].tobytes() != images[2].tobytes()


def test_game_captions_then_paints_the_caption_at_the_models_native_size(game_app, tiny_models):
    caption, image = game_app.predict(handle_file(str(LION)), api_name="/caption_and_generate")

    assert caption.strip()
    assert Image.open(image).size == (64, 64), "the tiny UNet's native size, as 512 is SD 1.5's"


def test_chatbot_streams_a_growing_reply(chatbot_app):
    torch.manual_seed(0)
    job = chatbot_app.submit("Tell me about Vienna", "Be brief.", 0.7, 48, api_name="/chat")
    reply = job.result(timeout=60)

    outputs = [output for output in job.outputs() if isinstance(output, str)]
    assert len(outputs) >= 2, "the reply arrived in one piece instead of streaming"
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(outputs))
    # Random weights never end their turn: the reply stops at max_tokens, and says so.
    assert reply == [
        {"role": "assistant", "content": outputs[-1]},
        {
            "role": "assistant",
            "content": "The reply reached its limit of 48 tokens. For a longer reply, raise Max new tokens "
            "under Advanced options and press retry.",
            "metadata": {"title": "⚠️ Reply cut off"},
        },
    ]
