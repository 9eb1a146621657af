"""The image apps' newer paths in headless Chromium: batches and their history in imagegen, telephone
in the game. Served by serve-all against the test inference server, as in test_browser.py."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from testing.browser import (
    RESULT_TIMEOUT,
    expect_image_of_size,
    image_in,
    open_accordion,
    open_app,
    screenshot,
    upload,
)
from testing.inference_server import DEFAULT_IMAGE_SIZE, InferenceTestServer, caption_for, image_color_for
from tests.harness import ROOT

pytestmark = pytest.mark.browser

PROMPT = "a watercolour of a lighthouse"
TOWER = ROOT / "spaces/game/examples/tower.jpg"
# On the test server the tower is captioned "a 377x600 green picture" and every painting is 512x512:
# the score a player reads for each caption a game can end on.
TOWER_SCORES = {
    "a 512x512 red picture": "50% alike.",
    "a 512x512 green picture": "73.9% alike.",
    "a 512x512 blue picture": "57.8% alike.",
    "a 512x512 gray picture": "62.2% alike.",
}


def gallery(page: Page, label: str) -> Locator:
    """The gallery labelled `label`; its thumbnails are buttons, their images named by their captions."""
    return page.get_by_test_id("block-label").filter(has_text=label).locator("xpath=..")


def thumbnails(gallery: Locator) -> Locator:
    return gallery.get_by_role("button", name=re.compile(r"^Thumbnail \d+ of \d+$"))


def set_number(page: Page, label: str, value: int) -> None:
    """Type into a slider's number box, as a person does, and confirm with Enter."""
    box = page.get_by_role("spinbutton", name=f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")


def test_imagegen_shows_a_batch_remembers_it_and_reuses_its_settings(page: Page, server: InferenceTestServer):
    open_app(page, "imagegen", "Image generation")
    seed_used = page.get_by_label("Seed used")
    expect(seed_used).to_have_value("")
    expect(page.get_by_role("button", name="♻️ Reuse this seed")).to_be_disabled()

    page.get_by_label("Your prompt").fill(PROMPT)
    set_number(page, "Number of images", 2)
    seed = page.get_by_role("spinbutton", name="Seed", exact=True)
    sizes = [page.get_by_role("slider", name=f"range slider for {side}") for side in ("Width", "Height")]
    open_accordion(page, "Advanced options", page.get_by_label("Negative prompt"), *sizes, seed)
    set_number(page, "Width", 128)
    set_number(page, "Height", 128)
    page.get_by_label("Negative prompt").fill("fog")
    seed.fill("42")
    for slider in sizes:
        expect(slider).to_have_value("128")
    page.get_by_role("button", name="Generate", exact=True).click()

    results = gallery(page, "Results")
    expect(thumbnails(results)).to_have_count(2, timeout=RESULT_TIMEOUT)
    expect_image_of_size(results.get_by_role("img", name="Seed 42"), (128, 128))
    expect_image_of_size(results.get_by_role("img", name="Seed 43"), (128, 128))
    expect(seed_used).to_have_value("42")
    assert sorted(request.json["parameters"]["seed"] for request in server.requests_for("imagegen")) == [
        42,
        43,
    ]

    history = gallery(page, "History")
    captions = [f"{PROMPT} · seed {s} · 25 steps · guidance 7 · 128×128 · without: fog" for s in (42, 43)]
    for caption in captions:
        expect(history.get_by_role("img", name=caption)).to_be_visible()

    # Move on to something else, then go back to the second image of the batch.
    page.get_by_label("Your prompt").fill("something else entirely")
    page.get_by_label("Negative prompt").fill("")
    seed.fill("-1")
    set_number(page, "Width", 512)
    page.get_by_role("button", name="Advanced options").click()
    reuse = page.get_by_role("button", name="♻️ Reuse these settings")
    expect(reuse).to_be_disabled()
    history.get_by_role("button", name="Thumbnail 2 of 2").click()
    reuse.click()

    expect(page.get_by_label("Your prompt")).to_have_value(PROMPT)
    expect(page.get_by_label("Negative prompt")).to_have_value("fog")
    expect(seed).to_have_value("43")
    for setting, value in (("Width", "128"), ("Height", "128"), ("Inference steps", "25")):
        expect(page.get_by_role("spinbutton", name=f"number input for {setting}")).to_have_value(value)
    expect(history.get_by_test_id("detailed-image")).to_have_attribute("alt", captions[1])
    screenshot(page, "imagegen_history")


def test_game_plays_telephone_and_scores_it(page: Page, server: InferenceTestServer):
    open_app(page, "game", "Describe-and-generate game 🖍️")

    upload(page, TOWER)
    with Image.open(TOWER) as tower:
        expect_image_of_size(image_in(page, "Starting image"), tower.size)
    set_number(page, "Rounds", 2)
    page.get_by_role("button", name="📞 Play telephone").click()

    timeline = gallery(page, "Timeline")
    expect(page.get_by_text("% alike.")).to_be_visible(timeout=RESULT_TIMEOUT)
    paintings = server.requests_for("imagegen")
    with Image.open(TOWER) as tower:
        captions = [caption_for(tower)]
    for painting in paintings:
        color = image_color_for(painting.json["inputs"], painting.json["parameters"]["seed"])
        captions.append(caption_for(Image.new("RGB", (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE), color)))
    assert [painting.json["inputs"] for painting in paintings] == captions[:2]
    expect(thumbnails(timeline)).to_have_count(3)
    for caption in dict.fromkeys(captions):
        expect(timeline.get_by_role("img", name=caption).first).to_be_visible()
    assert captions[0] == "a 377x600 green picture"
    expect(page.get_by_text(TOWER_SCORES[captions[-1]])).to_be_visible()
    screenshot(page, "game_telephone")
