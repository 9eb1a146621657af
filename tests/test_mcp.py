"""Every documented endpoint is also an MCP tool that an assistant can list and call."""

from __future__ import annotations

import ast
import asyncio
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.harness import load_app, settings_from
from tests.inference_server import InferenceTestServer, summary_for

TEXT = "My name is Andrew, I'm building DeepLearningAI and I live in New York"
EXPECTED_TOOLS = {
    "summarize": {"summarize", "summarize_document"},
    "ner": {"ner", "entities"},
    "caption": {"caption"},
    "imagegen": {"generate", "generate_images"},
    "game": {"caption", "generate", "caption_and_generate", "telephone"},
    "chatbot": {"chat", "choose_model"},
}


async def use_tools(url: str, call: tuple[str, dict[str, Any]] | None = None) -> tuple[set[str], Any]:
    """The names of the server's tools and, if asked, the text of one call's result."""
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        if call is None:
            return tools, None
        result = await session.call_tool(*call)
        assert not result.isError, result.content
        return tools, result.content[0].text


@pytest.fixture(scope="module")
def settings(inference_server: InferenceTestServer):
    return settings_from({**inference_server.env(), "HF_TOKEN": "hf_test_mcp"})


@pytest.mark.parametrize("name", sorted(EXPECTED_TOOLS))
def test_each_app_lists_its_endpoints_as_tools(settings, name):
    demo = load_app(name).build_demo(settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, mcp_server=True)
    try:
        tools, _ = asyncio.run(use_tools(f"{demo.local_url}gradio_api/mcp/"))
    finally:
        demo.close()
    assert tools == EXPECTED_TOOLS[name]


def test_an_assistant_calls_a_tool_and_gets_the_result(settings, server):
    demo = load_app("ner").build_demo(settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, mcp_server=True)
    try:
        _, result = asyncio.run(use_tools(f"{demo.local_url}gradio_api/mcp/", ("entities", {"text": TEXT})))
    finally:
        demo.close()
    entities = ast.literal_eval(result)  # Gradio hands the JSON value to MCP as its Python repr
    assert [(e["label"], e["text"]) for e in entities] == [
        ("PER", "Andrew"),
        ("ORG", "DeepLearningAI"),
        ("LOC", "New York"),
    ]
    assert server.requests_for("ner")[-1].json["inputs"] == TEXT


def test_summaries_through_mcp_match_the_api(settings, server):
    demo = load_app("summarize").build_demo(settings)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, mcp_server=True)
    text = "The tower is 324 metres tall. It is in Paris."
    try:
        _, result = asyncio.run(use_tools(f"{demo.local_url}gradio_api/mcp/", ("summarize", {"text": text})))
    finally:
        demo.close()
    assert result == summary_for(text, 130)
