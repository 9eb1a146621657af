"""Headless Chromium for the browser tests: the browser, a fresh page, and what a person does on one.

Chromium is Debian's (`.ci/install-browser.sh`), driven by Playwright's Python package. Requests that
would leave the machine are refused and reported; screenshots go beside the run's artifacts.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

try:
    from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright
except ModuleNotFoundError:
    PLAYWRIGHT_MISSING: str | None = "Playwright is not installed: pip install -r requirements-dev.txt"
else:
    PLAYWRIGHT_MISSING = None

ROOT = Path(__file__).resolve().parent.parent
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

# The token the browser tests' apps are configured with.
TOKEN = "hf_test_browser"


class ExternalRequestWarning(UserWarning):
    """A page asked for something that is not on this machine (a web font, a CDN script, analytics)."""


def unavailable(reason: str) -> NoReturn:
    """In CI a missing browser means a broken setup, so the run fails; on a laptop it may just be skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; skipped (failed in CI) where it or Playwright is missing."""
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


@contextmanager
def fresh_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in a fresh browser profile; requests that would leave the machine are refused, reported,
    and a JavaScript error on the page fails the test."""
    # The apps speak the browser's language; the assertions read English.
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url, locale="en-US")
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
