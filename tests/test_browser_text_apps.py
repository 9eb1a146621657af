"""The summarize and NER pages in headless Chromium: the chunk report, the threshold and the entity table.

Served like tests/test_browser.py serves every app (serve-all against the test inference server), with
the browser fixtures of tests/conftest.py and the helpers of testing/browser.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from testing.browser import ACTION_TIMEOUT, PAGE_LOAD_TIMEOUT, RESULT_TIMEOUT, VIEWPORT, open_app, screenshot
from testing.inference_server import InferenceTestServer, summary_for

pytestmark = pytest.mark.browser

TEXT = "My name is Andrew, I'm building DeepLearningAI and I live in New York"
PARAGRAPH = (
    "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building. "
    "Its base is square, measuring 125 metres (410 ft) on each side. "
) * 4
# About 5,000 characters: more than the model reads at once.
DOCUMENT = "\n\n".join(f"Section {number} begins here. {PARAGRAPH}" for number in range(1, 9))
# Slow enough that the progress of each chunk stays on screen long enough to be seen.
LATENCY = 0.4


def entity_rows(page: Page) -> list[str]:
    rows = page.get_by_role("grid", name="Entities").get_by_role("row")
    return [re.sub(r"\s+", " ", text).strip() for text in rows.all_inner_texts()[1:]]


def test_the_threshold_filters_the_entities_without_asking_the_model_again(
    page: Page, server: InferenceTestServer
):
    open_app(page, "ner", "Named entity recognition")
    page.get_by_label("Text to find entities").fill(TEXT)
    page.get_by_role("button", name="Find entities").click()

    table = page.get_by_role("grid", name="Entities")
    expect(table.get_by_role("row")).to_have_count(4, timeout=RESULT_TIMEOUT)
    assert entity_rows(page) == [
        "PER Andrew 0.986 11 17",
        "ORG DeepLearningAI 0.977 32 46",
        "LOC New York 0.97 61 69",
    ]
    threshold = page.get_by_role("spinbutton", name="number input for Minimum confidence")
    threshold.fill("0.98")
    threshold.press("Enter")

    expect(table.get_by_role("row")).to_have_count(2, timeout=RESULT_TIMEOUT)
    assert entity_rows(page) == ["PER Andrew 0.986 11 17"]
    output = page.get_by_test_id("highlighted-text")
    expect(output.get_by_text("Andrew", exact=True).locator("xpath=..")).to_contain_text("PER")
    expect(output).not_to_contain_text("ORG")
    assert len(server.requests_for("ner")) == 1
    screenshot(page, "ner_threshold")


def test_a_long_document_shows_its_progress_and_chunk_report(page: Page, server: InferenceTestServer):
    server.latency = LATENCY
    open_app(page, "summarize", "Text summarization")
    page.get_by_label("Text to summarize").fill(DOCUMENT)
    page.get_by_role("button", name="Summarize").click()

    # Each output of the event shows the progress.
    progress = page.get_by_text(re.compile(r"Summarizing chunk 1 of \d")).first
    expect(progress).to_be_visible(timeout=RESULT_TIMEOUT)
    expect(page.get_by_text(re.compile(r"split between sentences into \d+ chunks"))).to_be_visible(
        timeout=RESULT_TIMEOUT * 2
    )
    chunks = len(server.requests_for("summarize")) - 1
    expect(page.get_by_text(f"into {chunks} chunks and summarized in 2 rounds", exact=False)).to_be_visible()
    expected = summary_for(server.requests_for("summarize")[-1].json["inputs"], 130)
    expect(page.get_by_label("Summary", exact=True)).to_have_value(expected)
    screenshot(page, "summarize_chunks")


def test_a_chinese_browser_gets_the_page_and_the_table_in_chinese(
    browser: Browser, apps_url: str, server: InferenceTestServer
):
    context = browser.new_context(viewport=VIEWPORT, base_url=apps_url, locale="zh-CN")
    context.set_default_timeout(ACTION_TIMEOUT)
    try:
        page = context.new_page()
        page.goto("/ner/")
        expect(page.get_by_role("heading", name="命名实体识别", level=1)).to_be_visible(
            timeout=PAGE_LOAD_TIMEOUT
        )
        page.get_by_label("要识别实体的文本").fill(TEXT)
        page.get_by_role("button", name="识别实体").click()

        table = page.get_by_role("grid", name="实体")
        expect(table.get_by_role("row")).to_have_count(4, timeout=RESULT_TIMEOUT)
        expect(table.get_by_role("columnheader")).to_contain_text(
            ["类型", "文本", "置信度", "起始位置", "结束位置"]
        )
    finally:
        context.close()
