"""Every endpoint of every app, driven through gradio_client, against the test inference server.

The apps are pointed at the server with the `HF_API_*_BASE` variables, exactly as a user points
them at a self-hosted endpoint, so what the server receives is what a real endpoint would.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file
from PIL import Image

from common.tasks.chat import DEFAULT_SYSTEM_MESSAGE
from testing.apps import running_app
from testing.inference_server import InferenceTestServer, caption_for, image_color_for, summary_for
from tests.conftest import TEST_TOKEN
from tests.harness import ROOT, app_fixtures

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
CHEETAH = ROOT / "spaces/caption/examples/cheetah.jpg"


summarize_app, ner_app, caption_app, imagegen_app, game_app, chatbot_app = app_fixtures("remote_settings")


def assert_authorized(server: InferenceTestServer) -> None:
    assert server.requests, "the app sent no request"
    assert {r.headers.get("authorization") for r in server.requests} == {f"Bearer {TEST_TOKEN}"}


def test_summarize_returns_the_servers_summary(summarize_app, server):
    summary = summarize_app.predict(EIFFEL, api_name="/summarize")

    assert summary == summary_for(EIFFEL, 130)
    [request] = server.requests_for("summarize")
    assert request.json["inputs"] == EIFFEL
    assert request.json["parameters"]["generate_parameters"] == {"min_length": 30, "max_length": 130}
    assert_authorized(server)


def test_summarize_passes_length_controls(summarize_app, server):
    summary = summarize_app.predict(EIFFEL, 5, 12, api_name="/summarize")

    assert summary == summary_for(EIFFEL, 12)
    assert len(summary.split()) == 12
    [request] = server.requests_for("summarize")
    assert request.json["parameters"]["generate_parameters"] == {"min_length": 5, "max_length": 12}


@pytest.mark.parametrize("shape", ["pieces", "grouped"])
def test_ner_highlights_whole_entities_from_either_reply_shape(ner_app, server, shape):
    server.ner_shape = shape
    text = "My name is Andrew, I'm building DeepLearningAI and I live in New York"

    spans = ner_app.predict(text, api_name="/ner")

    labelled = [(span["token"], span["class_or_confidence"]) for span in spans if span["class_or_confidence"]]
    assert labelled == [("Andrew", "PER"), ("DeepLearningAI", "ORG"), ("New York", "LOC")]
    assert "".join(span["token"] for span in spans) == text
    [request] = server.requests_for("ner")
    assert request.json["inputs"] == text
    assert_authorized(server)


def test_caption_sends_the_uploaded_bytes_unchanged(caption_app, server):
    caption = caption_app.predict(handle_file(str(CHEETAH)), api_name="/caption")

    assert caption == caption_for(Image.open(CHEETAH))
    [request] = server.requests_for("caption")
    assert request.body == CHEETAH.read_bytes()
    assert request.headers["content-type"] == "image/jpeg"
    assert_authorized(server)


def test_imagegen_returns_an_image_of_the_requested_size_and_its_seed(imagegen_app, server):
    path, seed = imagegen_app.predict(
        "a dog in a park", "blurry", 30, 8.5, 256, 128, 42, api_name="/generate"
    )

    assert seed == 42
    with Image.open(path) as image:
        assert image.size == (256, 128)
        assert image.convert("RGB").getpixel((0, 0)) == image_color_for("a dog in a park", 42)
    [request] = server.requests_for("imagegen")
    assert request.json["inputs"] == "a dog in a park"
    assert request.json["parameters"] == {
        "negative_prompt": "blurry",
        "num_inference_steps": 30,
        "guidance_scale": 8.5,
        "width": 256,
        "height": 128,
        "seed": 42,
    }
    assert_authorized(server)


def test_imagegen_seed_minus_one_picks_a_seed_that_reproduces_the_image(imagegen_app, server):
    first_path, seed = imagegen_app.predict("a cat", "", 25, 7, 64, 64, -1, api_name="/generate")
    again_path, again_seed = imagegen_app.predict("a cat", "", 25, 7, 64, 64, seed, api_name="/generate")

    assert 0 <= seed < 2**31 and again_seed == seed
    assert [r.json["parameters"]["seed"] for r in server.requests_for("imagegen")] == [seed, seed]
    assert Image.open(first_path).tobytes() == Image.open(again_path).tobytes()


def test_game_captions_generates_and_does_both(game_app, server):
    caption = game_app.predict(handle_file(str(CHEETAH)), api_name="/caption")
    assert caption == caption_for(Image.open(CHEETAH))

    image_path = game_app.predict("a red bicycle", api_name="/generate")
    assert Image.open(image_path).size == (512, 512)
    assert server.requests_for("imagegen")[-1].json["inputs"] == "a red bicycle"

    both_caption, both_image = game_app.predict(handle_file(str(CHEETAH)), api_name="/caption_and_generate")
    assert both_caption == caption
    assert Image.open(both_image).size == (512, 512)
    assert server.requests_for("imagegen")[-1].json["inputs"] == caption
    assert_authorized(server)


def test_game_shows_the_caption_before_the_image(game_app, server):
    server.latency = 0.3
    job = game_app.submit(handle_file(str(CHEETAH)), api_name="/caption_and_generate")
    job.result(timeout=30)

    first, last = job.outputs()[0], job.outputs()[-1]
    assert first[0] == caption_for(Image.open(CHEETAH)) and first[1] is None
    assert last[0] == first[0] and Path(last[1]).exists()


def test_chatbot_streams_a_growing_reply_and_sends_all_parameters(chatbot_app, server):
    server.token_delay = 0.02
    job = chatbot_app.submit("hello there", "Be brief.", 0.3, 64, api_name="/chat")
    reply = job.result(timeout=30)

    assert reply == "You said: hello there (turn 1)"
    outputs = job.outputs()
    assert len(outputs) >= 4, "the reply did not stream"
    assert all(len(a) < len(b) and b.startswith(a) for a, b in itertools.pairwise(outputs))
    [request] = server.requests_for("chat")
    assert request.path == "/chat/v1/chat/completions"
    assert request.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert request.json["temperature"] == 0.3
    assert request.json["max_tokens"] == 64
    assert request.json["stream"] is True
    assert request.json["model"] == "Qwen/Qwen2.5-7B-Instruct", "OpenAI-style servers route on the model name"
    assert_authorized(server)


def test_chatbot_sends_the_history_the_caller_gives(remote_settings, server):
    with running_app("chatbot", remote_settings) as chat:
        first = chat.predict("first question", DEFAULT_SYSTEM_MESSAGE, 0.7, 128, api_name="/chat")
        history = [{"role": "user", "content": "first question"}, {"role": "assistant", "content": first}]
        reply = chat.predict("second question", DEFAULT_SYSTEM_MESSAGE, 0.7, 128, history, api_name="/chat")

    assert reply == "You said: second question (turn 2)"
    assert server.requests_for("chat")[-1].json["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_MESSAGE},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "You said: first question (turn 1)"},
        {"role": "user", "content": "second question"},
    ]


def test_the_token_appears_in_no_api_schema_page_or_config(summarize_app, chatbot_app):
    for client in (summarize_app, chatbot_app):
        assert TEST_TOKEN not in str(client.view_api(return_format="dict", print_info=False))
        for path in ("", "config", "gradio_api/info"):
            page = httpx.get(f"{client.src.rstrip('/')}/{path}")
            assert page.status_code == 200
            assert TEST_TOKEN not in page.text
