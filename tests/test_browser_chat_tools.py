"""The chatbot's tools in headless Chromium, under serve-all: the switch names the sibling apps whose
tools the model may call, each call shows as a step that opens on its arguments and result, a
picture a tool painted shows in the conversation, and the switch turned off leaves plain chat.
"""

from __future__ import annotations

import re

import pytest

from testing.browser import PLAYWRIGHT_MISSING, RESULT_TIMEOUT, expect_image_of_size, open_app, screenshot
from testing.inference_server import InferenceTestServer

if not PLAYWRIGHT_MISSING:
    from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

ENTITIES = 'call ner_entities {"text": "My name is Andrew and I live in Paris"}'
TOOLS_INFO = (
    "Tools of summarize, ner, caption, imagegen, game. The model decides when to call one; "
    "each call shows as a step you can open."
)


def ask(page: Page, message: str) -> None:
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(message)
    box.press("Enter")


def conversation(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("log", name="chatbot conversation")


def test_a_tool_call_shows_as_a_step_that_opens_on_its_arguments_and_result(page: Page, server):
    open_app(page, "chatbot", "Chatbot")
    switch = page.get_by_role("checkbox", name="Let the model use tools")
    expect(switch).to_be_checked()
    expect(page.get_by_text(TOOLS_INFO)).to_be_visible()

    ask(page, ENTITIES)

    answer = conversation(page).get_by_text('The tools said: [{"label": "PER", "text": "Andrew"', exact=False)
    expect(answer).to_be_visible(timeout=RESULT_TIMEOUT)
    step = conversation(page).get_by_role("button", name=re.compile(r"^🛠️ ner_entities"))
    expect(step).to_have_text(re.compile(r"🛠️ ner_entities\s*\(\d+(\.\d+)?s\)"))
    step.click()
    arguments = conversation(page).locator("code.language-json")
    expect(arguments).to_have_text('{\n  "text": "My name is Andrew and I live in Paris"\n}')
    screenshot(page, "chatbot-tool")


def test_a_picture_a_tool_paints_shows_in_the_conversation(page: Page, server):
    open_app(page, "chatbot", "Chatbot")

    ask(page, 'call imagegen_generate {"prompt": "a red fox", "seed": 42, "width": 64, "height": 64}')

    expect(conversation(page).get_by_text("The tools said:", exact=False)).to_be_visible(
        timeout=RESULT_TIMEOUT
    )
    expect_image_of_size(conversation(page).locator("img").last, (64, 64))


def test_with_the_switch_off_the_model_is_not_offered_tools(page: Page, server: InferenceTestServer):
    open_app(page, "chatbot", "Chatbot")
    page.get_by_role("checkbox", name="Let the model use tools").uncheck()

    ask(page, ENTITIES)

    expect(conversation(page).get_by_text(f"You said: {ENTITIES} (turn 1)")).to_be_visible(
        timeout=RESULT_TIMEOUT
    )
    assert ["tools" in request.json for request in server.requests_for("chat")] == [False]
