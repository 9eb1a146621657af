"""A model's reasoning, shown apart from its answer: through gradio_client on the remote backend, in
each of the three shapes servers send it, and on a tiny local model whose chat template thinks.

A reply with reasoning ends as two messages: the reasoning in a titled message that the page shows
collapsible (pending while it streams, then done, with how long it took), then the answer. A reply
without reasoning is text, as it always was. Reasoning is never sent back to the model.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest
from gradio_client import Client

from common.reasoning import ReplyDelta
from common.tasks.chat import ShownReply
from testing.apps import running_app, settings_from
from testing.inference_server import (
    InferenceTestServer,
    ReasoningShape,
    chat_deltas,
    chat_reasoning_for,
    chat_reply_for,
)
from tests.harness import app_fixture

if TYPE_CHECKING:
    from testing.tiny_models import TinyModels

SYSTEM = "Be brief."
SHAPES: tuple[ReasoningShape, ...] = ("reasoning", "reasoning_content", "think")
THINKING_TITLE = "💭 Thinking"
CUT_TITLE = "⚠️ Reply cut off"

chatbot = app_fixture("chatbot", "remote_settings")


@pytest.fixture
def reasoning_server(server: InferenceTestServer) -> InferenceTestServer:
    server.token_delay = 0.01  # a measurable time spent thinking
    return server


def asked(message: str, history: list[dict[str, Any]] | None = None) -> list[dict[str, str]]:
    """The messages the server receives for `message` after `history`."""
    return [
        {"role": "system", "content": SYSTEM},
        *(history or []),
        {"role": "user", "content": message},
    ]


def thinking(reply: Any) -> dict[str, Any]:
    """The thinking message of a reply, checked to be one."""
    assert isinstance(reply, list) and reply, f"a reply with reasoning is a list of messages, not {reply!r}"
    message = reply[0]
    assert message["role"] == "assistant"
    assert message["metadata"]["title"] == THINKING_TITLE
    return message


@pytest.mark.parametrize("shape", SHAPES)
def test_reasoning_comes_first_in_a_titled_message_then_the_answer(chatbot, reasoning_server, shape):
    reasoning_server.reasoning = shape

    reply = chatbot.predict("hello", SYSTEM, 0.7, 256, api_name="/chat")

    thought = thinking(reply)
    assert thought["content"].strip() == chat_reasoning_for(asked("hello"))
    assert thought["metadata"]["status"] == "done"
    assert thought["metadata"]["duration"] > 0
    assert reply[1:] == [{"role": "assistant", "content": chat_reply_for(asked("hello"))}]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_reasoning_streams_while_the_answer_has_not_started(chatbot, reasoning_server, shape):
    reasoning_server.reasoning = shape

    job = chatbot.submit("hello", SYSTEM, 0.7, 256, api_name="/chat")
    job.result(timeout=30)
    outputs = job.outputs()

    before_answer = [output for output in outputs if isinstance(output, list) and len(output) == 1]
    assert len(before_answer) >= 3, f"the reasoning streamed in steps, not {outputs[:3]!r}"
    assert all(thinking(output)["metadata"]["status"] == "pending" for output in before_answer)
    growing = [output[0]["content"] for output in before_answer]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(growing))
    assert outputs.index(before_answer[0]) == 0, "the reasoning is shown from its first token"
    assert "<think>" not in str(outputs) and "</think>" not in str(outputs)


def test_a_reply_without_reasoning_is_text_as_before(chatbot, reasoning_server):
    job = chatbot.submit("hello", SYSTEM, 0.7, 256, api_name="/chat")

    assert job.result(timeout=30) == chat_reply_for(asked("hello"))
    assert all(isinstance(output, str) for output in job.outputs())


@pytest.mark.parametrize("shape", SHAPES)
def test_reasoning_is_not_sent_back_to_the_model(chatbot, reasoning_server, shape):
    reasoning_server.reasoning = shape
    first = chatbot.predict("hello", SYSTEM, 0.7, 256, api_name="/chat")
    history = [{"role": "user", "content": "hello"}, *first]

    chatbot.predict("and now?", SYSTEM, 0.7, 256, history, api_name="/chat")

    answer = {"role": "assistant", "content": chat_reply_for(asked("hello"))}
    sent = reasoning_server.requests_for("chat")[-1].json["messages"]
    assert sent == asked("and now?", [{"role": "user", "content": "hello"}, answer])


def test_an_answer_sent_back_with_its_think_block_goes_without_it(chatbot, reasoning_server):
    history = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "<think>\nA greeting.\n</think>\n\nHi!"},
    ]

    chatbot.predict("and now?", SYSTEM, 0.7, 256, history, api_name="/chat")

    assert reasoning_server.requests_for("chat")[-1].json["messages"][2] == {
        "role": "assistant",
        "content": "Hi!",
    }


def test_a_reply_cut_while_thinking_keeps_the_reasoning_and_says_why(chatbot, reasoning_server):
    reasoning_server.reasoning = "reasoning"

    reply = chatbot.predict("hello", SYSTEM, 0.7, 3, api_name="/chat")

    thought = thinking(reply)
    assert (thought["content"], thought["metadata"]["status"]) == ("The user wrote", "done")
    [note] = reply[1:]
    assert note["metadata"] == {"title": CUT_TITLE}
    assert "reached its limit of 3 tokens" in note["content"]


def test_a_reply_cut_while_answering_keeps_both_and_says_why(chatbot, reasoning_server):
    reasoning_server.reasoning = "think"
    answer_starts = next(
        n for n, delta in enumerate(chat_deltas(asked("hello"), "think")) if "</" in delta["content"]
    )

    reply = chatbot.predict("hello", SYSTEM, 0.7, answer_starts + 3, api_name="/chat")

    thought, answer, note = reply
    assert thinking(reply) == thought and thought["metadata"]["status"] == "done"
    assert answer == {"role": "assistant", "content": "You said:"}
    assert note["metadata"] == {"title": CUT_TITLE}


def test_a_connection_cut_while_thinking_keeps_the_reasoning_and_says_why(chatbot, reasoning_server):
    reasoning_server.reasoning = "reasoning_content"
    reasoning_server.inject("stream_cut", "chat")

    reply = chatbot.predict("hello", SYSTEM, 0.7, 256, api_name="/chat")

    thought, note = reply
    assert chat_reasoning_for(asked("hello")).startswith(thinking(reply)["content"])
    assert thought["metadata"]["status"] == "done"
    assert note["metadata"] == {"title": CUT_TITLE} and "was cut before the reply finished" in note["content"]


def test_the_thinking_title_speaks_chinese_to_a_chinese_caller(chatbot, reasoning_server):
    reasoning_server.reasoning = "reasoning_content"
    chinese = Client(chatbot.src, verbose=False, headers={"Accept-Language": "zh-CN"})

    reply = chinese.predict("你好", SYSTEM, 0.7, 256, api_name="/chat")

    assert reply[0]["metadata"]["title"] == "💭 思考过程"


def test_blank_lines_a_server_sends_after_the_reasoning_do_not_start_the_answer():
    reply = ShownReply()
    for delta in (ReplyDelta("Hmm.", reasoning=True), ReplyDelta("\n\n"), ReplyDelta("Hi!")):
        reply.add(delta)
        if delta.text == "\n\n":
            assert [message["metadata"]["status"] for message in reply.output()] == ["pending"]

    assert [message["content"] for message in reply.output()] == ["Hmm.", "Hi!"]


def test_an_empty_thought_leaves_the_reply_text():
    reply = ShownReply()
    for delta in (ReplyDelta("\n\n", reasoning=True), ReplyDelta("Hi!")):
        reply.add(delta)

    assert reply.output() == "Hi!"


# On the local backend: a tiny model whose chat template opens the <think> block


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_a_template_that_thinks_shows_the_reasoning_apart(tiny_models: TinyModels):
    from testing.tiny_models import THINKING_ANSWER, THINKING_REASONING

    settings = settings_from({"INFERENCE_BACKEND": "local", "CHAT_MODEL": str(tiny_models.chat_thinking)})
    with running_app("chatbot", settings) as local:
        job = local.submit("Hello", SYSTEM, 0.7, 64, api_name="/chat")
        reply = job.result(timeout=60)
        outputs = job.outputs()
        history = [{"role": "user", "content": "Hello"}, *reply]
        again = local.predict("And now?", SYSTEM, 0.7, 64, history, api_name="/chat")

    thought = thinking(reply)
    assert thought["content"].strip() == THINKING_REASONING
    assert thought["metadata"]["status"] == "done" and thought["metadata"]["duration"] >= 0
    assert reply[1:] == [{"role": "assistant", "content": THINKING_ANSWER}]
    assert thinking(outputs[0])["metadata"]["status"] == "pending"
    contents = [message["content"] for message in again]
    assert contents == [THINKING_REASONING, THINKING_ANSWER], "a later turn is answered the same way"


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_a_reply_cut_while_thinking_keeps_the_thought_with_a_note_saying_why(tiny_models: TinyModels):
    from testing.tiny_models import THINKING_REASONING

    settings = settings_from({"INFERENCE_BACKEND": "local", "CHAT_MODEL": str(tiny_models.chat_thinking)})
    with running_app("chatbot", settings) as local:
        reply = local.predict("Hello", SYSTEM, 0.7, 3, api_name="/chat")

    thought, note = reply
    assert THINKING_REASONING.startswith(thought["content"].strip())
    assert thought["metadata"]["status"] == "done"
    assert note == {
        "role": "assistant",
        "content": "The reply reached its limit of 3 tokens. For a longer reply, raise Max new tokens under "
        "Advanced options and press retry.",
        "metadata": {"title": CUT_TITLE},
    }
