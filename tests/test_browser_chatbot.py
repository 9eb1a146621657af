"""The chatbot's features in headless Chromium, used as a person would: retry, undo and edit, code
blocks with a copy button, the model picker, the note when old turns are left out, conversations
kept across a reload, the page in Chinese, a model's reasoning shown apart from its answer
(also on a tiny local model whose chat template thinks), and a question about an attached picture.

The app runs alone, chatting through Hugging Face's routing (so the picker offers every model), with
the router stood in for by the test inference server: the model a person picks is read off the request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub.inference._providers import CONVERSATIONAL_AUTO_ROUTER

from common.chat_models import PROVIDER_CHAT_MODELS
from common.settings import DEFAULT_MODELS
from common.tasks.chat import DEFAULT_SYSTEM_MESSAGE
from common.ui import served_options
from scripts.serve import load_app
from testing.apps import settings_from
from testing.browser import (
    OFF_MACHINE,
    PAGE_LOAD_TIMEOUT,
    PLAYWRIGHT_MISSING,
    RESULT_TIMEOUT,
    TOKEN,
    VIEWPORT,
    fresh_page,
    open_accordion,
    refuse_off_machine,
    screenshot,
)
from testing.inference_server import InferenceTestServer, ReceivedPicture, RecordedRequest, received_pictures
from tests.harness import ROOT

if not PLAYWRIGHT_MISSING:
    from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser

OTHER_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
CODE_MESSAGE = "Check this:\n```python\nprint('hi')\n```\nThanks"
# Over a third of Llama 3.1's served 16,384-token window with a 4,096-token reply kept free: the
# second such message leaves the first turn out. No spaces, so the reply streams in a few chunks.
LONG_MESSAGE_CHARS = 15_000


@pytest.fixture(scope="module")
def apps_url(inference_server: InferenceTestServer) -> Iterator[str]:
    """The chatbot alone, its hub-id chat calls routed to the test inference server."""
    environ = {name: value for name, value in inference_server.env().items() if name != "HF_API_CHAT_BASE"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CONVERSATIONAL_AUTO_ROUTER, "base_url", inference_server.endpoint("chat"))
        demo = load_app("chatbot").build_demo(settings_from({**environ, "HF_TOKEN": TOKEN}))
        # Served as the apps are, with their theme and page script.
        demo.launch(prevent_thread_lock=True, quiet=True, **served_options(mcp_server=False))
        try:
            yield demo.local_url.rstrip("/")
        finally:
            demo.close()


class Chat:
    """The chatbot page, by what a person sees on it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.goto("/")
        expect(page.get_by_role("heading", name="Chatbot", level=1)).to_be_visible(timeout=PAGE_LOAD_TIMEOUT)
        self.message_box = page.get_by_role("textbox", name="Message", exact=True)
        self.conversation = page.get_by_role("log", name="chatbot conversation")
        self.questions = self.conversation.get_by_test_id("user")
        self.replies = self.conversation.get_by_test_id("bot")

    def send(self, message: str) -> None:
        """Send a message and wait until its whole reply is shown: the server ends each with its turn."""
        replies = self.replies.count()
        self.message_box.fill(message)
        self.message_box.press("Enter")
        expect(self.replies).to_have_count(replies + 1, timeout=RESULT_TIMEOUT)
        expect(self.replies.last).to_contain_text(re.compile(r"\(turn \d+\)\s*$"), timeout=RESULT_TIMEOUT)
        expect(self.message_box).to_be_editable(timeout=RESULT_TIMEOUT)

    def button(self, name: str) -> Locator:
        return self.conversation.get_by_role("button", name=name, exact=True)


def chat_requests(server: InferenceTestServer, count: int) -> list[RecordedRequest]:
    """The chat requests the server received, once there are `count` of them."""
    deadline = time.monotonic() + RESULT_TIMEOUT / 1000
    while len(requests := server.requests_for("chat")) < count:
        assert time.monotonic() < deadline, f"{len(requests)} chat requests arrived, not {count}"
        time.sleep(0.05)
    return requests


def you_said(message: str, turn: int) -> str:
    return f"You said: {message} (turn {turn})"


def test_retry_undo_and_edit(page: Page, server: InferenceTestServer):
    chat = Chat(page)
    chat.send("first question")
    chat.send("second question")
    [*_, asked] = server.requests_for("chat")
    expect(chat.message_box).to_have_attribute("placeholder", "Type a message and press Enter")

    chat.button("Retry").click()

    asked_again = chat_requests(server, 3)[-1]
    assert asked_again.json["messages"] == asked.json["messages"], "the same question, the same history"
    expect(chat.replies).to_have_text([you_said("first question", 1), you_said("second question", 2)])
    expect(chat.message_box).to_be_editable(timeout=RESULT_TIMEOUT)

    chat.button("Undo").click()

    expect(chat.questions).to_have_text(["first question"])
    expect(chat.replies).to_have_text([you_said("first question", 1)])
    expect(chat.message_box).to_have_value("second question")

    chat.questions.first.hover()
    chat.button("Edit").click()
    chat.conversation.get_by_role("textbox").fill("first question, edited")
    chat.button("Submit").click()

    expect(chat.questions).to_have_text(["first question, edited"], timeout=RESULT_TIMEOUT)
    expect(chat.replies).to_have_text([you_said("first question, edited", 1)], timeout=RESULT_TIMEOUT)
    assert server.requests_for("chat")[-1].json["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_MESSAGE},
        {"role": "user", "content": "first question, edited"},
    ]


def test_a_code_block_is_rendered_with_a_copy_button(page: Page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    chat = Chat(page)

    chat.send(CODE_MESSAGE)

    code = chat.replies.last.locator("pre code.language-python")
    expect(code).to_have_text("print('hi')")
    chat.replies.last.get_by_role("button", name="copy", exact=True).click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == "print('hi')"
    expect(chat.button("Copy message")).to_have_count(2)
    screenshot(page, "chatbot-code")


def test_the_picked_model_answers(page: Page, server: InferenceTestServer):
    chat = Chat(page)
    picker = page.get_by_role("combobox", name="Model")
    expect(picker).to_have_value(DEFAULT_MODELS["chat"])

    picker.click()
    expect(page.get_by_role("option")).to_contain_text(list(PROVIDER_CHAT_MODELS))
    page.get_by_role("option", name=OTHER_MODEL).click()
    chat.send("hello")

    assert [request.json["model"] for request in server.requests_for("chat")] == [OTHER_MODEL]


def test_the_visitor_is_told_when_old_turns_are_left_out(page: Page, server: InferenceTestServer):
    chat = Chat(page)
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=OTHER_MODEL).click()
    max_tokens = page.get_by_role("spinbutton", name="number input for Max new tokens")
    open_accordion(page, "Advanced options", max_tokens)
    max_tokens.fill("4096")
    max_tokens.press("Enter")

    chat.send("a" * LONG_MESSAGE_CHARS)
    chat.send("b" * LONG_MESSAGE_CHARS)

    expect(page.get_by_test_id("toast-body")).to_contain_text(
        "did not see its oldest turns (1 left out)", timeout=RESULT_TIMEOUT
    )
    assert [len(request.json["messages"]) for request in server.requests_for("chat")] == [2, 2]


def test_a_conversation_is_still_there_after_a_reload(page: Page):
    chat = Chat(page)
    chat.send("remember me")

    page.reload()

    chat = Chat(page)
    expect(chat.questions).to_have_count(0)
    page.get_by_text("remember me", exact=True).click()
    expect(chat.questions).to_have_text(["remember me"])
    expect(chat.replies).to_have_text([you_said("remember me", 1)])


def test_the_page_speaks_chinese_to_a_chinese_browser(browser: Browser, apps_url: str):
    context = browser.new_context(viewport=VIEWPORT, base_url=apps_url, locale="zh-CN")
    context.route(OFF_MACHINE, refuse_off_machine)
    page = context.new_page()
    try:
        page.goto("/")
        expect(page.get_by_role("heading", name="聊天机器人", level=1)).to_be_visible(
            timeout=PAGE_LOAD_TIMEOUT
        )
        expect(page.get_by_role("textbox", name="消息", exact=True)).to_have_attribute(
            "placeholder", "输入消息，按回车发送"
        )
        expect(page.get_by_role("combobox", name="模型")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("新对话"))).to_be_visible()
    finally:
        context.close()


THINKING = re.compile(r"^💭 Thinking")


def test_the_reasoning_streams_open_then_folds_away_above_the_answer(page: Page, server: InferenceTestServer):
    server.reasoning = "reasoning"
    server.token_delay = 0.15  # time to watch the reasoning arrive before the answer
    chat = Chat(page)
    reasoning = "The user wrote 2 messages; I will repeat the last one."
    thought = chat.conversation.get_by_role("button", name=THINKING)

    chat.message_box.fill("hello")
    chat.message_box.press("Enter")

    # While the model thinks, its reasoning shows as it comes, and no empty answer beside it.
    expect(chat.conversation.get_by_text("The user wrote", exact=False)).to_be_visible()
    expect(chat.replies).to_have_count(1)
    expect(chat.conversation.get_by_text("You said")).to_have_count(0)
    expect(chat.replies.last).to_have_text(you_said("hello", 1), timeout=RESULT_TIMEOUT)
    expect(chat.replies).to_have_count(2)
    expect(thought).to_have_text(re.compile(r"💭 Thinking\s*\(\d+(\.\d+)?s\)"))
    expect(chat.conversation.get_by_text(reasoning)).to_be_hidden()
    screenshot(page, "chatbot-thinking")

    thought.click()

    expect(chat.conversation.get_by_text(reasoning)).to_be_visible()
    expect(chat.message_box).to_be_editable(timeout=RESULT_TIMEOUT)
    chat.message_box.fill("and now?")
    chat.message_box.press("Enter")
    asked = chat_requests(server, 2)[-1]
    assert asked.json["messages"][1:] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": you_said("hello", 1)},
        {"role": "user", "content": "and now?"},
    ], "the reasoning is not sent back"


def test_think_tags_never_reach_the_page_and_retry_thinks_again(page: Page, server: InferenceTestServer):
    server.reasoning = "think"
    chat = Chat(page)
    chat.message_box.fill("hello")
    chat.message_box.press("Enter")
    expect(chat.replies.last).to_have_text(you_said("hello", 1), timeout=RESULT_TIMEOUT)
    expect(chat.message_box).to_be_editable(timeout=RESULT_TIMEOUT)

    chat.button("Retry").click()

    chat_requests(server, 2)
    expect(chat.conversation.get_by_role("button", name=THINKING)).to_have_count(1, timeout=RESULT_TIMEOUT)
    expect(chat.replies.last).to_have_text(you_said("hello", 1), timeout=RESULT_TIMEOUT)
    assert "think>" not in chat.conversation.inner_text()


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_a_model_that_thinks_shows_its_reasoning_apart(browser: Browser, tiny_models):
    from testing.tiny_models import THINKING_ANSWER, THINKING_REASONING

    settings = settings_from({"INFERENCE_BACKEND": "local", "CHAT_MODEL": str(tiny_models.chat_thinking)})
    demo = load_app("chatbot").build_demo(settings)
    demo.launch(prevent_thread_lock=True, quiet=True, **served_options(mcp_server=False))
    try:
        with fresh_page(browser, demo.local_url.rstrip("/")) as page:
            chat = Chat(page)
            chat.message_box.fill("Hello")
            chat.message_box.press("Enter")

            expect(chat.replies.last).to_have_text(THINKING_ANSWER, timeout=RESULT_TIMEOUT)
            thought = chat.conversation.get_by_role("button", name=THINKING)
            thought.click()
            expect(chat.conversation.get_by_text(THINKING_REASONING, exact=True)).to_be_visible()
            assert "think>" not in chat.conversation.inner_text()
    finally:
        demo.close()


VISION_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
LION = ROOT / "spaces" / "caption" / "examples" / "lion.jpg"


def attach(page: Page, picture: Path) -> None:
    """Attach a picture to the message through the box's file dialog, as a person does, and wait until
    it is uploaded: its thumbnail is shown."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach a picture").click()
    chooser.value.set_files(picture)
    expect(page.get_by_role("listitem", name="File thumbnail").locator("img")).to_be_visible()


def test_a_question_about_a_picture_reaches_a_model_that_sees_it(page: Page, server: InferenceTestServer):
    chat = Chat(page)
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=VISION_MODEL).click()

    attach(page, LION)
    chat.message_box.fill("What animal is this?")
    chat.message_box.press("Enter")

    expect(chat.replies.last).to_have_text(
        "You said: What animal is this? (turn 1, 1 picture)", timeout=RESULT_TIMEOUT
    )
    expect(chat.questions.first.locator("img")).to_be_visible()
    [asked] = chat_requests(server, 1)
    assert asked.json["model"] == VISION_MODEL
    assert received_pictures(asked.json["messages"]) == [ReceivedPicture("image/jpeg", LION.read_bytes())]
    screenshot(page, "chatbot-picture")

    chat.message_box.fill("Where does it live?")
    chat.message_box.press("Enter")

    expect(chat.replies.last).to_have_text(
        "You said: Where does it live? (turn 2, 1 picture)", timeout=RESULT_TIMEOUT
    )


def test_a_picture_alone_can_be_sent_and_a_text_only_model_says_it_cannot_see_it(
    page: Page, server: InferenceTestServer
):
    chat = Chat(page)
    send = page.locator(".chat-message-box").get_by_role("button", name="Submit")
    expect(send).to_be_disabled()

    attach(page, LION)

    expect(send).to_be_enabled()
    send.click()
    expect(chat.conversation.get_by_text("reads text only: it cannot see pictures")).to_be_visible(
        timeout=RESULT_TIMEOUT
    )
    expect(chat.conversation).to_contain_text(f"Pick a model that sees them ({VISION_MODEL})")
    expect(chat.message_box).to_be_editable(timeout=RESULT_TIMEOUT)
    assert server.requests_for("chat") == []
