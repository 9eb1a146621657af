"""Every documented endpoint is an MCP tool an agent can list, call and parse, through the official
`mcp` client SDK: data comes back as JSON, images as MCP image content with their URL."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ImageContent, TextContent, Tool
from PIL import Image

from testing.apps import launched_apps, settings_from
from testing.inference_server import InferenceTestServer, image_color_for, summary_for

TEXT = "My name is Andrew, I'm building DeepLearningAI and I live in New York"
EXPECTED_TOOLS = {
    "summarize": {"summarize", "summarize_document"},
    "ner": {"ner", "entities"},
    "caption": {"caption"},
    "imagegen": {"generate", "generate_images"},
    "game": {"caption", "generate", "caption_and_generate", "telephone"},
    "chatbot": {"chat"},
}


def red_square_data_url() -> str:
    """A 32x32 red PNG as the `data:` URL an agent sends for an image argument."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (220, 20, 20)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def _session_call(url: str, call: tuple[str, dict[str, Any]] | None) -> tuple[list[Tool], Any]:
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        return tools, None if call is None else await session.call_tool(*call)


def list_tools(url: str) -> dict[str, Tool]:
    tools, _ = asyncio.run(_session_call(url, None))
    return {tool.name: tool for tool in tools}


def call_tool(url: str, name: str, arguments: dict[str, Any]) -> CallToolResult:
    _, result = asyncio.run(_session_call(url, (name, arguments)))
    return result


def texts(result: CallToolResult) -> list[str]:
    assert not result.isError, result.content
    return [item.text for item in result.content if isinstance(item, TextContent)]


def images(result: CallToolResult) -> list[Image.Image]:
    """The result's images, decoded from their MCP image content; each must be a PNG."""
    assert not result.isError, result.content
    found = []
    for item in result.content:
        if isinstance(item, ImageContent):
            assert item.mimeType == "image/png"
            found.append(Image.open(io.BytesIO(base64.b64decode(item.data))).convert("RGB"))
    return found


def image_urls(result: CallToolResult) -> list[str]:
    """The URL given with each image, read from the JSON text that follows it."""
    return [json.loads(text)["url"] for text in texts(result) if text.startswith('{"url"')]


@pytest.fixture(scope="module")
def settings(inference_server: InferenceTestServer):
    return settings_from({**inference_server.env(), "HF_TOKEN": "hf_test_mcp"})


@pytest.fixture(scope="module")
def mcp_url(settings) -> Iterator[Callable[[str], str]]:
    """The MCP address of each app, every one launched alone."""
    with launched_apps(settings) as urls:
        yield lambda name: f"{urls[name]}gradio_api/mcp/"


@pytest.mark.parametrize("name", sorted(EXPECTED_TOOLS))
def test_each_app_lists_its_endpoints_as_tools(mcp_url, name):
    assert set(list_tools(mcp_url(name))) == EXPECTED_TOOLS[name]


def test_tool_descriptions_read_as_sentences(mcp_url):
    entities = list_tools(mcp_url("ner"))["entities"]
    document = list_tools(mcp_url("summarize"))["summarize_document"]
    generate = list_tools(mcp_url("imagegen"))["generate"]

    assert entities.description == (
        "List the people, organisations, locations and other names in a text, as JSON. "
        "Returns: the entities in reading order: label (PER, ORG, LOC, MISC), text, score (0-1), start, end"
    )
    assert ",," not in document.description and "read, it" not in document.description
    assert generate.description == (
        "Generate an image from a text prompt. Returns: the image, the seed used to make it"
    )


def test_tool_schemas_type_whole_numbers_as_integers_and_defaults_as_optional(mcp_url):
    schema = list_tools(mcp_url("imagegen"))["generate"].inputSchema

    assert schema["required"] == ["prompt"]
    assert schema["properties"]["steps"]["type"] == "integer"
    assert (schema["properties"]["steps"]["minimum"], schema["properties"]["steps"]["maximum"]) == (1, 100)
    assert schema["properties"]["guidance"]["type"] == "number"
    assert schema["properties"]["negative_prompt"]["type"] == "string"


def test_entities_come_back_as_json(mcp_url, server):
    (result,) = texts(call_tool(mcp_url("ner"), "entities", {"text": TEXT}))

    assert [(e["label"], e["text"], e["start"], e["end"]) for e in json.loads(result)] == [
        ("PER", "Andrew", 11, 17),
        ("ORG", "DeepLearningAI", 32, 46),
        ("LOC", "New York", 61, 69),
    ]
    assert server.requests_for("ner")[-1].json["inputs"] == TEXT


def test_the_highlighted_text_comes_back_as_json(mcp_url, server):
    (result,) = texts(call_tool(mcp_url("ner"), "ner", {"text": "My name is Andrew"}))

    assert json.loads(result) == [
        {"token": "My name is ", "class_or_confidence": None},
        {"token": "Andrew", "class_or_confidence": "PER"},
        {"token": "", "class_or_confidence": None},  # Gradio's HighlightedText always ends with the rest
    ]


def test_a_summary_comes_back_as_its_text(mcp_url, server):
    text = "The tower is 324 metres tall. It is in Paris."

    assert texts(call_tool(mcp_url("summarize"), "summarize", {"text": text})) == [summary_for(text, 130)]


def test_a_document_summary_comes_back_as_json(mcp_url, server):
    text = "The tower is 324 metres tall. It is in Paris."
    (result,) = texts(call_tool(mcp_url("summarize"), "summarize_document", {"text": text}))

    assert json.loads(result) == {"summary": "The tower is 324 metres tall.", "chunks": 1, "rounds": 1}


def test_a_caption_of_an_image_sent_as_a_data_url(mcp_url, server):
    result = call_tool(mcp_url("caption"), "caption", {"image": red_square_data_url()})

    assert texts(result) == ["a 32x32 red picture"]


def test_a_generated_image_comes_back_as_image_content_with_its_url_and_seed(mcp_url, server):
    result = call_tool(mcp_url("imagegen"), "generate", {"prompt": "a red fox", "seed": 42, "width": 64})

    (image,) = images(result)
    assert image.size == (64, 512)
    assert image.getpixel((0, 0)) == image_color_for("a red fox", 42)
    (url,) = image_urls(result)
    fetched = httpx.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content.startswith(b"\x89PNG")
    assert texts(result)[-1] == "42"


def test_a_batch_comes_back_as_one_image_content_per_image_then_the_seeds(mcp_url, server):
    arguments = {"prompt": "a fox", "seed": 7, "num_images": 2, "width": 64, "height": 64}
    result = call_tool(mcp_url("imagegen"), "generate_images", arguments)

    assert [image.getpixel((0, 0)) for image in images(result)] == [
        image_color_for("a fox", 7),
        image_color_for("a fox", 8),
    ]
    assert [json.loads(text).get("caption") for text in texts(result)[:2]] == ["Seed 7", "Seed 8"]
    assert json.loads(texts(result)[-1]) == [7, 8]


def test_the_game_tools_return_captions_as_text_and_paintings_as_images(mcp_url, server):
    url = mcp_url("game")
    image = red_square_data_url()

    assert texts(call_tool(url, "caption", {"image": image})) == ["a 32x32 red picture"]
    assert len(images(call_tool(url, "generate", {"caption": "a cat"}))) == 1
    both = call_tool(url, "caption_and_generate", {"image": image})
    assert texts(both)[0] == "a 32x32 red picture" and len(images(both)) == 1


def test_telephone_returns_each_picture_with_its_caption_then_the_score_and_verdict(mcp_url, server):
    result = call_tool(mcp_url("game"), "telephone", {"image": red_square_data_url(), "rounds": 1})

    assert len(images(result)) == 2
    pictures = [json.loads(text) for text in texts(result)[:2]]
    assert pictures[0]["caption"] == "a 32x32 red picture"
    assert pictures[1]["caption"].startswith("a 512x512 ")
    similarity, verdict = texts(result)[2:]
    assert 0 <= json.loads(similarity) <= 100
    assert verdict.startswith("**")


def test_a_reply_with_reasoning_is_the_thinking_message_then_the_answer_as_json(mcp_url, server):
    server.reasoning = "reasoning_content"

    [reply] = texts(call_tool(mcp_url("chatbot"), "chat", {"message": "hi"}))

    thought, answer = json.loads(reply)
    assert thought["metadata"]["title"] == "💭 Thinking" and thought["metadata"]["status"] == "done"
    assert thought["content"] == "The user wrote 2 messages; I will repeat the last one."
    assert answer == {"role": "assistant", "content": "You said: hi (turn 1)"}


def test_chat_takes_a_model_and_answers_with_the_reply_text(mcp_url, server):
    url = mcp_url("chatbot")

    assert texts(call_tool(url, "chat", {"message": "hi", "model": "Qwen/Qwen2.5-7B-Instruct"})) == [
        "You said: hi (turn 1)"
    ]
    refused = call_tool(url, "chat", {"message": "hi", "model": "someone/else"})
    assert refused.isError
    assert "someone/else is not one of the models offered here: Qwen/Qwen2.5-7B-Instruct" in str(
        refused.content
    )
