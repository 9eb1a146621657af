"""The chatbot's features: history cut to the context window, a model picker, retry and undo.

Trimming is unit-tested on `common.chat`, then watched through gradio_client on both backends: the
test inference server records the messages each request carried, and on the local backend the tiny
chat model's real tokenizer decides. Notes the visitor sees as toasts reach gradio_client as log
messages of the call.
"""

from __future__ import annotations

import asyncio
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import StatusUpdate

from common.backends.local import LocalChat
from common.backends.remote import REMOTE_CONTEXT_WINDOW, RemoteChat, estimate_tokens
from common.chat import (
    ConversationTooLongError,
    FittedConversation,
    Message,
    TokenCounter,
    build_messages,
    fit_to_window,
    split_turns,
)
from common.chat_models import PROVIDER_CHAT_MODELS, offered_models
from common.settings import DEFAULT_MODELS, Settings
from testing.apps import running_app, settings_from
from testing.chatbot_page import ChatbotPage
from testing.inference_server import InferenceTestServer
from tests.conftest import TEST_TOKEN
from tests.harness import app_fixture, card, hub_settings

if TYPE_CHECKING:
    from testing.tiny_models import TinyModels

DEFAULT_MODEL = DEFAULT_MODELS["chat"]
OTHER_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SYSTEM = "Be brief."
# Sized for the remote backend's 8,192-token window with room for a 4,096-token reply: two turns of
# such messages fit, a third does not. No spaces, so the test server streams each in a few chunks.
LONG_MESSAGE_CHARS = 3000
LONG_REPLY_ROOM = 4096


# Trimming, on its own


def conversation(turns: int) -> list[Message]:
    return [
        message
        for n in range(turns)
        for message in (
            {"role": "user", "content": f"question {n}"},
            {"role": "assistant", "content": f"answer {n}"},
        )
    ]


def counting_words(calls: list[int] | None = None) -> TokenCounter:
    """A token counter: one token per word, recording how many messages each call counted."""

    async def count(messages: list[Message]) -> int:
        if calls is not None:
            calls.append(len(messages))
        return sum(len(message["content"].split()) for message in messages)

    return count


def fit(
    history: list[Message], budget: int, user: str = "new question", calls: list[int] | None = None
) -> FittedConversation:
    return asyncio.run(fit_to_window(SYSTEM, history, user, budget=budget, count=counting_words(calls)))


def test_turns_are_a_user_message_with_the_replies_after_it():
    greeting: Message = {"role": "assistant", "content": "Hello! Ask me anything."}
    history = [greeting, *conversation(2), {"role": "assistant", "content": "and more"}]

    assert split_turns(history) == [
        [greeting],
        conversation(1),
        [*conversation(2)[2:], {"role": "assistant", "content": "and more"}],
    ]


def test_a_conversation_that_fits_is_sent_whole():
    fitted = fit(conversation(3), budget=100)

    assert fitted.turns_left_out == 0
    assert fitted.messages == build_messages(SYSTEM, conversation(3), "new question")


def test_the_oldest_whole_turns_go_first_and_the_system_and_new_message_stay():
    # Each turn is four words; the system message and the new question take four together.
    fitted = fit(conversation(5), budget=4 + 2 * 4 + 3)

    assert fitted.turns_left_out == 3
    assert fitted.messages == build_messages(SYSTEM, conversation(5)[6:], "new question")


def test_a_turn_is_never_split():
    # Room for one and a half turns keeps one whole turn, not a reply without its question.
    fitted = fit(conversation(2), budget=4 + 6)

    assert fitted.messages[1:] == [*conversation(2)[2:], {"role": "user", "content": "new question"}]


def test_a_message_too_long_on_its_own_is_refused_with_its_size():
    with pytest.raises(ConversationTooLongError) as refused:
        fit(conversation(2), budget=5, user="a question of six words here")

    assert (refused.value.tokens, refused.value.budget) == (2 + 6, 5)


def test_no_room_left_for_the_prompt_is_refused():
    with pytest.raises(ConversationTooLongError):
        fit([], budget=0)


def test_a_long_conversation_is_counted_a_handful_of_times_not_once_per_turn():
    calls: list[int] = []

    fitted = fit(conversation(200), budget=4 + 10 * 4, calls=calls)

    assert fitted.turns_left_out == 190
    assert len(calls) <= 2 + math.ceil(math.log2(200))


# The models offered


def test_through_providers_the_configured_model_comes_first_then_the_others(inference_server):
    assert offered_models(hub_settings(inference_server)) == tuple(PROVIDER_CHAT_MODELS)
    assert offered_models(hub_settings(inference_server, CHAT_MODEL="HuggingFaceTB/SmolLM3-3B")) == (
        "HuggingFaceTB/SmolLM3-3B",
        *PROVIDER_CHAT_MODELS,
    )


@pytest.mark.parametrize(
    "environ",
    [
        {"HF_API_CHAT_BASE": "http://127.0.0.1:1/chat", "HF_TOKEN": TEST_TOKEN},
        {"INFERENCE_BACKEND": "local"},
        {"HF_PROVIDER": "together", "HF_TOKEN": TEST_TOKEN},
    ],
    ids=["endpoint URL", "local", "pinned provider"],
)
def test_a_single_model_backend_offers_only_the_configured_model(environ):
    assert offered_models(settings_from({**environ, "CHAT_MODEL": "some/model"})) == ("some/model",)


def test_the_default_model_is_offered_and_the_card_lists_every_offered_model():
    assert DEFAULT_MODEL in PROVIDER_CHAT_MODELS
    assert card("chatbot")["models"] == list(PROVIDER_CHAT_MODELS)


def test_each_offered_model_has_its_own_window_and_others_get_the_conservative_one(inference_server):
    def window(settings: Settings) -> int:
        return asyncio.run(RemoteChat(settings.chat, TEST_TOKEN).context_window())

    assert window(hub_settings(inference_server, CHAT_MODEL=OTHER_MODEL)) == PROVIDER_CHAT_MODELS[OTHER_MODEL]
    assert window(hub_settings(inference_server, CHAT_MODEL="some/model")) == REMOTE_CONTEXT_WINDOW
    assert window(settings_from({**inference_server.env(), "HF_TOKEN": TEST_TOKEN})) == REMOTE_CONTEXT_WINDOW


def test_the_estimate_counts_a_token_per_chinese_character():
    assert estimate_tokens("abcdef") == 2
    assert estimate_tokens("机器学习") == 4
    assert estimate_tokens("AI 是什么") == 1 + 3


# Through gradio_client, on the remote backend


chatbot_app = app_fixture("chatbot", "remote_settings")


@pytest.fixture
def chatbot(chatbot_app: Client, server: InferenceTestServer) -> Client:
    """The app in a new session: each test's conversation starts empty."""
    chatbot_app.reset_session()
    return chatbot_app


def notes(job: Any) -> list[str]:
    """The toasts a call showed (gradio_client receives them as log messages), once it has finished."""

    async def collect() -> list[str]:
        return [update.log[0] async for update in job if isinstance(update, StatusUpdate) and update.log]

    return asyncio.run(collect())


def long_message(n: int) -> str:
    return f"message{n}:" + "x" * LONG_MESSAGE_CHARS


def test_scripts_over_http_send_every_value_or_name_the_ones_they_set(chatbot, server):
    base = chatbot.src.rstrip("/")
    every_value = httpx.post(
        f"{base}/gradio_api/call/chat", json={"data": ["hello", SYSTEM, 0.7, 64, None, None]}
    )
    # The named form leaves out what has a default, as gradio_client and MCP callers may.
    named = httpx.post(f"{base}/gradio_api/call/v2/chat", json={"message": "hi", "max_tokens": 64})

    for posted, reply in ((every_value, "You said: hello (turn 1)"), (named, "You said: hi (turn 1)")):
        result = httpx.get(f"{base}/gradio_api/call/chat/{posted.json()['event_id']}", timeout=30)
        assert "event: complete" in result.text and reply in result.text
    assert server.requests_for("chat")[-1].json["max_tokens"] == 64
    assert [
        name["parameter_name"]
        for name in chatbot.view_api(return_format="dict", print_info=False)["named_endpoints"]["/chat"][
            "parameters"
        ]
    ] == ["message", "system_message", "temperature", "max_tokens", "history", "model", "use_tools"]


def test_the_oldest_turns_are_left_out_when_the_window_fills_and_the_visitor_is_told(chatbot, server):
    shown, history = [], []
    for n in range(3):
        job = chatbot.submit(long_message(n), SYSTEM, 0.7, LONG_REPLY_ROOM, history, api_name="/chat")
        shown.append(notes(job))
        reply = job.result(timeout=30)
        assert reply.startswith(f"You said: {long_message(n)}")
        history += [{"role": "user", "content": long_message(n)}, {"role": "assistant", "content": reply}]

    assert shown[:2] == [[], []]
    assert shown[2] == [
        "This conversation no longer fits the model's context window, so the model did not see its "
        "oldest turns (1 left out)."
    ]
    sent = [request.json["messages"] for request in server.requests_for("chat")]
    assert [len(messages) for messages in sent] == [2, 4, 4]
    assert sent[2] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": long_message(1)},
        {"role": "assistant", "content": f"You said: {long_message(1)} (turn 2)"},
        {"role": "user", "content": long_message(2)},
    ]


def test_a_message_that_cannot_fit_is_refused_before_the_backend(chatbot, server):
    with pytest.raises(AppError) as refused:
        chatbot.predict("y" * 16_000, SYSTEM, 0.7, LONG_REPLY_ROOM, api_name="/chat")

    message = str(refused.value)
    assert "take about 5,3" in message and "with 4,096 more for the reply" in message
    assert f"over the {REMOTE_CONTEXT_WINDOW:,}-token context window of the chat endpoint" in message
    assert server.requests_for("chat") == []


def test_an_endpoint_offers_only_its_model_and_refuses_others_before_the_backend(chatbot, server):
    assert chatbot.predict(DEFAULT_MODEL, api_name="/choose_model") == (), "the choice is kept in the session"
    with pytest.raises(
        AppError, match=f"{OTHER_MODEL} is not one of the models offered here: {DEFAULT_MODEL}"
    ):
        chatbot.predict(OTHER_MODEL, api_name="/choose_model")

    chatbot.predict("hello", SYSTEM, 0.7, 64, api_name="/chat")
    assert [request.json["model"] for request in server.requests_for("chat")] == [DEFAULT_MODEL]


def test_the_refusal_of_an_unknown_model_speaks_chinese_to_a_chinese_visitor(chatbot):
    chinese = Client(chatbot.src, verbose=False, headers={"Accept-Language": "zh-CN"})

    with pytest.raises(AppError, match=f"此处不提供 nobody/model，可选的模型有：{DEFAULT_MODEL}。"):
        chinese.predict("nobody/model", api_name="/choose_model")


def test_each_call_names_the_model_that_answers_it(routed_to_test_server):
    server = routed_to_test_server
    with running_app("chatbot", hub_settings(server)) as chatbot:
        first = chatbot.predict("hello", SYSTEM, 0.7, 64, api_name="/chat")
        history = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": first}]
        reply = chatbot.predict("and now?", SYSTEM, 0.7, 64, history, OTHER_MODEL, api_name="/chat")
        chatbot.predict("hi", SYSTEM, 0.7, 64, api_name="/chat")

    assert reply == "You said: and now? (turn 2)", "another model carries on the same conversation"
    requests = server.requests_for("chat")
    assert [request.json["model"] for request in requests] == [DEFAULT_MODEL, OTHER_MODEL, DEFAULT_MODEL]
    assert {request.path for request in requests} == {"/chat/v1/chat/completions"}


def test_a_model_missing_from_the_list_is_refused_before_the_backend(routed_to_test_server):
    with running_app("chatbot", hub_settings(routed_to_test_server)) as chatbot:
        with pytest.raises(AppError) as refused:
            chatbot.predict("someone/unlisted-model", api_name="/choose_model")
        chatbot.predict("hello", SYSTEM, 0.7, 64, api_name="/chat")

    assert str(refused.value) == (
        f"someone/unlisted-model is not one of the models offered here: {', '.join(PROVIDER_CHAT_MODELS)}."
    )
    assert [request.json["model"] for request in routed_to_test_server.requests_for("chat")] == [
        DEFAULT_MODEL
    ]


def test_retry_asks_again_and_undo_takes_the_last_turn_back(chatbot, server):
    page = ChatbotPage(chatbot)
    page.send("first")
    page.send("second")
    asked = [request.json["messages"] for request in server.requests_for("chat")]

    page.fire(page.chatbot, "retry")

    *_, retried = (request.json["messages"] for request in server.requests_for("chat"))
    assert len(server.requests_for("chat")) == 3 and retried == asked[-1], "the same question and history"
    assert page.conversation == [
        ("user", "first"),
        ("assistant", "You said: first (turn 1)"),
        ("user", "second"),
        ("assistant", "You said: second (turn 2)"),
    ]

    page.fire(page.chatbot, "undo")

    assert page.conversation == [("user", "first"), ("assistant", "You said: first (turn 1)")]
    assert page.values[page.message_box] == {"text": "second", "files": []}, "back in the box to edit"
    page.send("third")
    assert server.requests_for("chat")[-1].json["messages"][-2:] == [
        {"role": "assistant", "content": "You said: first (turn 1)"},
        {"role": "user", "content": "third"},
    ]
    assert page.conversation[-1] == ("assistant", "You said: third (turn 2)")


# On the local backend: the tiny chat model's own tokenizer and window


local_chatbot = app_fixture("chatbot", "local_settings")


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_the_real_tokenizer_decides_what_fits(local_chatbot, tiny_models):
    # The tiny tokenizer knows no Chinese: every character is three byte-level tokens, where the
    # remote backend's estimate counts one. Two such messages fill most of the 2,048-token window.
    from transformers import AutoTokenizer

    message = "机器学习是什么" * 45
    tokens = len(AutoTokenizer.from_pretrained(tiny_models.chat)(message)["input_ids"])
    assert tokens >= 3 * len(message) > 2 * estimate_tokens(message)

    shown, history = [], []
    for n in range(3):
        job = local_chatbot.submit(f"{n} {message}", "", 0.7, 16, history, api_name="/chat")
        shown.append(notes(job))
        history += [
            {"role": "user", "content": f"{n} {message}"},
            {"role": "assistant", "content": job.result(60)},
        ]

    assert shown[:2] == [[], []]
    assert len(shown[2]) == 1 and shown[2][0].endswith("(1 left out).")


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_a_message_over_the_models_window_is_refused(local_chatbot, tiny_models):
    with pytest.raises(AppError, match=r"over the 2,048-token context window of .*chat"):
        local_chatbot.predict("机器学习" * 250, "", 0.7, 16, api_name="/chat")


# Chat templates without a system role (Gemma's): the system message opens the first user turn

GEMMA_TURNS = (
    "{%- for message in messages %}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{- '<start_of_turn>' + role + '\\n' + message['content'] + '<end_of_turn>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)
# Gemma 2's own way: a system message is an error.
REFUSING_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- raise_exception('System role not supported') }}{%- endif %}"
    + GEMMA_TURNS
)
# The quieter way some templates have: a system message is left out.
DROPPING_TEMPLATE = GEMMA_TURNS.replace(
    "{%- for message in messages %}", "{%- for message in messages if message['role'] != 'system' %}"
)


def with_template(tiny_models: TinyModels, directory: Path, template: str) -> Path:
    """The tiny chat model, in `directory`, with `template` for its chat template."""
    shutil.copytree(tiny_models.chat, directory)
    (directory / "chat_template.jinja").write_text(template)
    return directory


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
@pytest.mark.parametrize("template", [REFUSING_TEMPLATE, DROPPING_TEMPLATE], ids=["refusing", "dropping"])
def test_locally_a_template_without_a_system_role_reads_the_system_message_in_the_first_user_turn(
    tiny_models, tmp_path, template
):
    model = with_template(tiny_models, tmp_path / "gemma-like", template)
    chat = LocalChat(settings_from({"INFERENCE_BACKEND": "local", "CHAT_MODEL": str(model)}).chat)

    def tokens(*messages: Message) -> int:
        return asyncio.run(chat.count_tokens(list(messages)))

    with_system = tokens({"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hello"})

    assert with_system == tokens({"role": "user", "content": f"{SYSTEM}\n\nHello"})
    assert with_system > tokens({"role": "user", "content": "Hello"})


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_a_model_that_refuses_system_messages_still_answers_one(tiny_models, tmp_path):
    model = with_template(tiny_models, tmp_path / "gemma-like", REFUSING_TEMPLATE)
    settings = settings_from({"INFERENCE_BACKEND": "local", "CHAT_MODEL": str(model)})

    with running_app("chatbot", settings) as chatbot:
        reply = chatbot.predict("Hello", SYSTEM, 0.7, 4, api_name="/chat")

    # Random weights write random text up to the limit; what matters is that text came back, not the
    # template's error.
    answer, note = reply
    assert answer["content"]
    assert note["content"].startswith("The reply reached its limit of 4 tokens.")
