"""The six apps in headless Chromium, used as a person uses them: typing, clicking, watching replies stream.

Everything runs as `scripts/serve.py` serves it, pointed at the test inference server, so the pages, the
queue and the streaming path are the real ones and only the model is stood in for. Each test saves a
screenshot of its app with the result on screen; `SCREENSHOTS_DIR=docs/screenshots` refreshes the
README's pictures.

Chromium is Debian's (`.ci/install-browser.sh`), driven by Playwright's Python package.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from PIL import Image

from common.tasks.summarize import MAX_LENGTH
from tests.harness import ROOT, load_serve_all, serving, settings_from
from tests.inference_server import DEFAULT_IMAGE_SIZE, InferenceTestServer, caption_for, summary_for

try:
    from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright
except ModuleNotFoundError:
    PLAYWRIGHT_MISSING: str | None = "Playwright is not installed: pip install -r requirements-dev.txt"
else:
    PLAYWRIGHT_MISSING = None

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
VIEWPORT = {"width": 1280, "height": 900}
# The README's pictures are refreshed on request (SCREENSHOTS_DIR=docs/screenshots); otherwise they go
# beside the run's other artifacts, so a test run never rewrites tracked files.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "artifacts" / "screenshots")
# Any http(s) URL whose host is not this machine.
OFF_MACHINE = re.compile(r"^https?://(?!(?:127\.0\.0\.1|localhost)(?::\d+)?/)")
# Gradio shows a spinner or progress bar in a status tracker until the event's result is rendered.
BUSY = '[data-testid="status-tracker"]:not(.hide)'

# Milliseconds, as Playwright counts. A first page load fetches and compiles Gradio's frontend.
PAGE_LOAD_TIMEOUT = 30_000
ACTION_TIMEOUT = 15_000
RESULT_TIMEOUT = 30_000
# Slow enough that a person sees the reply grow, fast enough to keep the test short.
TOKEN_DELAY = 0.05

TOKEN = "hf_test_browser"
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


class ExternalRequestWarning(UserWarning):
    """A page asked for something that is not on this machine (a web font, a CDN script, analytics)."""


def unavailable(reason: str) -> NoReturn:
    """In CI a missing browser means a broken setup, so the run fails; on a laptop it may just be skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests)", pytrace=False)
    pytest.skip(reason)


SERVE_ALL = load_serve_all()


@pytest.fixture(scope="module")
def apps_url(inference_server: InferenceTestServer) -> Iterator[str]:
    """Serve-all's app on a free local port, every task of every app sent to the test inference server."""
    settings = settings_from({**inference_server.env(), "HF_TOKEN": TOKEN})
    app = SERVE_ALL.build_app(settings)
    with serving(app) as url:
        SERVE_ALL.set_local_urls(app, url)
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by the module: launching it costs more than a fresh profile."""
    if PLAYWRIGHT_MISSING:
        unavailable(PLAYWRIGHT_MISSING)
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM}: run .ci/install-browser.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=ACTION_TIMEOUT
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, apps_url: str, server: InferenceTestServer) -> Iterator[Page]:
    """A fresh browser profile on serve-all; requests that would leave the machine are refused, reported."""
    # The apps speak the browser's language; the assertions read English.
    context = browser.new_context(viewport=VIEWPORT, base_url=apps_url, locale="en-US")
    context.set_default_timeout(ACTION_TIMEOUT)
    context.set_default_navigation_timeout(PAGE_LOAD_TIMEOUT)
    context.route(OFF_MACHINE, refuse_off_machine)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised JavaScript errors: {errors}"


def refuse_off_machine(route: Route) -> None:
    """Tests must not depend on the network; a page that reaches out is reported, not failed."""
    warnings.warn(f"refused a request to {route.request.url}", ExternalRequestWarning, stacklevel=1)
    route.abort("blockedbyclient")


def open_app(page: Page, name: str, title: str) -> None:
    """Open one app and wait until Gradio has drawn it: its title is the first thing rendered."""
    page.goto(f"/{name}/")
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=PAGE_LOAD_TIMEOUT)


def open_accordion(page: Page, name: str, *controls: Locator) -> None:
    """Open the accordion `name` and return once its `controls` are drawn and keep what is typed.

    Gradio 6 draws the components of an accordion that starts closed only when it first opens, then
    two animation frames later sets them to their initial values again: whatever was typed in between
    is lost (a batch ordered at 128×128 came out 512×128). A person never types that fast.
    """
    page.get_by_role("button", name=name).click()
    for control in controls:
        expect(control).to_be_visible()
    # One frame more than Gradio waits, counted from when every control is on the page.
    wait_for_frames(page, 3)


def wait_for_frames(page: Page, count: int) -> None:
    """Return once the page has drawn `count` more animation frames; a page that draws none fails."""
    page.evaluate(
        """([count, timeout]) => new Promise((resolve, reject) => {
            setTimeout(() => reject(new Error(`the page drew no frame in ${timeout} ms`)), timeout);
            const frame = (left) => (left ? requestAnimationFrame(() => frame(left - 1)) : resolve());
            frame(count);
        })""",
        [count, ACTION_TIMEOUT],
    )


def image_in(page: Page, label: str) -> Locator:
    """The image shown in the image component labelled `label` (Gradio's images carry no alt text)."""
    block_label = page.get_by_test_id("block-label").filter(has_text=label)
    return block_label.locator("xpath=..").locator("img")


def example_image(page: Page, path: Path) -> Locator:
    """An example thumbnail; they have no accessible name, so it is found by the file it shows."""
    return page.get_by_role("button").filter(has=page.locator(f'img[src$="/{path.name}"]'))


def upload(page: Page, path: Path) -> None:
    """Pick a file through the upload area's file dialog, as a person does."""
    with page.expect_file_chooser(timeout=ACTION_TIMEOUT) as chooser:
        page.get_by_role("button", name="Drop an image file here to upload").click()
    chooser.value.set_files(path)


def expect_image_of_size(image: Locator, size: tuple[int, int]) -> None:
    """A broken image is still visible, so check that the picture itself arrived, and at its size."""
    expect(image).to_have_js_property("complete", True, timeout=RESULT_TIMEOUT)
    shown = image.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert tuple(shown) == size, f"expected a {size} image, the page shows {shown} (0: it did not load)"


def screenshot(page: Page, name: str) -> None:
    """Saves <name>.png once nothing is loading and nothing is hovered or focused."""
    expect(page.locator(BUSY)).to_have_count(0, timeout=RESULT_TIMEOUT)
    page.evaluate("document.fonts.ready")
    page.evaluate("document.activeElement?.blur()")
    page.mouse.move(0, 0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, animations="disabled")


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

    expect(page.get_by_role("link")).to_have_count(len(SERVE_ALL.APPS))
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
