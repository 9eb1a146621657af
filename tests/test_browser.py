"""The six apps in headless Chromium, used as a person uses them: typing, clicking, watching replies stream.

Everything runs as `scripts/serve.py` serves it, pointed at the test inference server, so the pages, the
queue and the streaming path are the real ones and only the model is stood in for. Each test saves a
screenshot of its app with the result on screen; `SCREENSHOTS_DIR=docs/screenshots` refreshes the
README's pictures.

The browser, its pages and the helpers for what a person does on them are in `testing/browser.py`; the
fixtures (`browser`, `page`, `apps_url`) in `tests/conftest.py`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from PIL import Image

from common.tasks.summarize import MAX_LENGTH
from scripts import serve
from testing.browser import (
    PAGE_LOAD_TIMEOUT,
    PLAYWRIGHT_MISSING,
    RESULT_TIMEOUT,
    expect_image_of_size,
    image_in,
    open_accordion,
    open_app,
    screenshot,
    upload,
)
from testing.inference_server import DEFAULT_IMAGE_SIZE, InferenceTestServer, caption_for, summary_for
from tests.harness import ROOT

if not PLAYWRIGHT_MISSING:
    from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

# Slow enough that a person sees the reply grow, fast enough to keep the test short.
TOKEN_DELAY = 0.05

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
NER_EXAMPLE = (ROOT / "spaces/ner/examples/sentences.txt").read_text().splitlines()[0].strip()
LION = ROOT / "spaces/caption/examples/lion.jpg"
TOWER = ROOT / "spaces/game/examples/tower.jpg"
# The index page's link to each app reads as the app's own title.
INDEX_TITLES = {
    "summarize": "Text summarization",
    "ner": "Named entity recognition",
    "caption": "Image captioning",
    "imagegen": "Image generation",
    "game": "Describe-and-generate game 🖍️",
    "chatbot": "Chatbot",
}


def example_image(page: Page, path: Path) -> Locator:
    """An example thumbnail; they have no accessible name, so it is found by the file it shows."""
    return page.get_by_role("button").filter(has=page.locator(f'img[src$="/{path.name}"]'))


def texts_while_streaming(bubble: Locator, final: str) -> list[str]:
    """Every distinct text `bubble` showed until it read `final`, sampled as fast as the page answers."""
    shown: list[str] = []
    deadline = time.monotonic() + RESULT_TIMEOUT / 1000
    while not shown or shown[-1] != final:
        if time.monotonic() > deadline:
            raise AssertionError(f"the reply never read {final!r}; it showed {shown}")
        text = "".join(bubble.all_inner_texts())  # empty until the bubble appears, without waiting for it
        if text and (not shown or text != shown[-1]):
            shown.append(text)
    return shown


def test_index_lists_the_six_apps_and_links_to_each(page: Page):
    page.goto("/")

    expect(page.get_by_role("link")).to_have_count(len(serve.APPS))
    for name, title in INDEX_TITLES.items():
        expect(page.get_by_role("link", name=title, exact=True)).to_have_attribute("href", f"/{name}/")
    page.get_by_role("link", name="Text summarization", exact=True).click()

    expect(page).to_have_url(re.compile(r"/summarize/$"))
    expect(page.get_by_role("heading", name="Text summarization")).to_be_visible(timeout=PAGE_LOAD_TIMEOUT)


def test_summarize_shows_the_summary(page: Page):
    open_app(page, "summarize", "Text summarization")

    page.get_by_label("Text to summarize").fill(EIFFEL)
    page.get_by_role("button", name="Summarize").click()

    expected = summary_for(EIFFEL, int(MAX_LENGTH.default))
    expect(page.get_by_label("Summary", exact=True)).to_have_value(expected, timeout=RESULT_TIMEOUT)
    screenshot(page, "summarize")


def test_ner_labels_each_entity_in_its_colour(page: Page):
    open_app(page, "ner", "Named entity recognition")

    page.get_by_role("button", name=re.compile(r"^My name is Andrew")).click()
    expect(page.get_by_label("Text to find entities")).to_have_value(NER_EXAMPLE)
    page.get_by_role("button", name="Find entities").click()

    output = page.get_by_test_id("highlighted-text")
    # The span around each entity's text is painted in its label's colour and names the label.
    highlights = {
        entity: output.get_by_text(entity, exact=True).locator("xpath=..")
        for entity in ("Andrew", "DeepLearningAI", "California")
    }
    for entity, label in (("Andrew", "PER"), ("DeepLearningAI", "ORG"), ("California", "LOC")):
        expect(highlights[entity]).to_contain_text(label, timeout=RESULT_TIMEOUT)
    colours = {
        entity: highlight.evaluate("span => getComputedStyle(span).backgroundColor")
        for entity, highlight in highlights.items()
    }
    assert len(set(colours.values())) == len(colours), colours
    expect(output).to_contain_text("and I live in")
    screenshot(page, "ner")


def test_chatbot_streams_each_reply_and_keeps_the_conversation(page: Page, server: InferenceTestServer):
    server.token_delay = TOKEN_DELAY
    open_app(page, "chatbot", "Chatbot")
    message_box = page.get_by_role("textbox", name="Message", exact=True)
    conversation = page.get_by_role("log", name="chatbot conversation")
    replies = conversation.get_by_test_id("bot")

    first = "What is the tallest structure in Paris, and how tall is it today?"
    message_box.fill(first)
    message_box.press("Enter")
    first_reply = f"You said: {first} (turn 1)"
    shown = texts_while_streaming(replies.nth(0), first_reply)

    growing = shown[:-1]
    assert len(growing) >= 3, f"the reply did not stream: it showed {shown}"
    assert all(first_reply.startswith(text) for text in growing), shown

    second = "And in New York?"
    message_box.fill(second)
    message_box.press("Enter")

    expect(replies.nth(1)).to_have_text(f"You said: {second} (turn 2)", timeout=RESULT_TIMEOUT)
    expect(conversation.get_by_test_id("user")).to_have_text([first, second])
    expect(replies).to_have_count(2)
    screenshot(page, "chatbot")


def test_imagegen_paints_an_image_of_the_chosen_size(page: Page, server: InferenceTestServer):
    open_app(page, "imagegen", "Image generation")

    open_accordion(
        page,
        "Advanced options",
        *(
            page.get_by_role("slider", name=f"range slider for {setting}")
            for setting in ("Inference steps", "Guidance scale", "Width", "Height")
        ),
        page.get_by_role("spinbutton", name="Seed", exact=True),
    )
    for setting, value in (("Width", "256"), ("Height", "192")):
        page.get_by_role("spinbutton", name=f"number input for {setting}").fill(value)
        page.get_by_role("spinbutton", name=f"number input for {setting}").press("Enter")
        expect(page.get_by_role("slider", name=f"range slider for {setting}")).to_have_value(value)
    page.get_by_role("spinbutton", name="Seed", exact=True).fill("42")
    page.get_by_label("Your prompt").fill("a watercolour of a lighthouse")
    page.get_by_role("button", name="Generate", exact=True).click()

    expect(page.get_by_label("Seed used")).to_have_value("42", timeout=RESULT_TIMEOUT)
    expect_image_of_size(image_in(page, "Results"), (256, 192))
    [request] = server.requests_for("imagegen")
    parameters = request.json["parameters"]
    assert (parameters["width"], parameters["height"], parameters["seed"]) == (256, 192, 42)
    screenshot(page, "imagegen")


def test_caption_captions_an_uploaded_image(page: Page):
    open_app(page, "caption", "Image captioning")

    upload(page, LION)

    # Uploading is enough: the caption comes without pressing the button.
    with Image.open(LION) as lion:
        expected, size = caption_for(lion), lion.size
    expect(page.get_by_label("Caption", exact=True)).to_have_value(expected, timeout=RESULT_TIMEOUT)
    expect_image_of_size(image_in(page, "Upload image"), size)
    expect(page.get_by_role("button", name="Caption", exact=True)).to_be_enabled()
    screenshot(page, "caption")


def test_game_captions_an_image_then_paints_the_caption(page: Page):
    open_app(page, "game", "Describe-and-generate game 🖍️")
    for button in ("Generate caption", "Caption and generate", "Generate image"):
        expect(page.get_by_role("button", name=button, exact=True)).to_be_visible()

    upload(page, TOWER)
    with Image.open(TOWER) as tower:
        expected, size = caption_for(tower), tower.size
    expect_image_of_size(image_in(page, "Starting image"), size)
    page.get_by_role("button", name="Caption and generate").click()

    expect(page.get_by_label("Generated caption")).to_have_value(expected, timeout=RESULT_TIMEOUT)
    expect_image_of_size(image_in(page, "Generated image"), (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE))
    screenshot(page, "game")


def test_a_picked_example_image_shows_its_preview(page: Page):
    open_app(page, "caption", "Image captioning")

    example_image(page, LION).click()

    with Image.open(LION) as lion:
        expect_image_of_size(image_in(page, "Upload image"), lion.size)
