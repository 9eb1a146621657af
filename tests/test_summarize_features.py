"""Long documents and length controls of the summarize app, through gradio_client on both backends.

The test inference server's summary is the first sentence of its input cut to `max_length` words,
so the assertions are about what the app sends: how many chunk requests, each within the budget by
the same counter the app uses, the partial summaries in order in the request that combines them,
and the length controls on every request.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from common.backends.remote import REMOTE_SUMMARY_INPUT_TOKENS, estimate_tokens
from common.chunking import split_to_fit
from common.tasks.summarize import MAX_CHUNKS, PARTIALS_SEPARATOR, RESERVED_TOKENS
from testing.inference_server import summary_for
from tests.conftest import TEST_TOKEN
from tests.harness import ROOT, app_fixture

if TYPE_CHECKING:
    pass

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
# About 6,500 characters in eight paragraphs: three chunks for the remote estimate.
DOCUMENT = "\n\n".join(f"Section {number} tells the story again. {EIFFEL}" for number in range(1, 9))
# The remote limit, and the tiny local model's too.
BUDGET = REMOTE_SUMMARY_INPUT_TOKENS - RESERVED_TOKENS


def long_sentence(number: int, words: int) -> str:
    return f"Sentence {number} " + " ".join(f"word{n}" for n in range(words)) + "."


summarize_app = app_fixture("summarize", "remote_settings")


def test_a_long_document_is_summarized_chunk_by_chunk_then_as_a_whole(summarize_app, server):
    result = summarize_app.predict(DOCUMENT, 5, 20, api_name="/summarize_document")

    requests = server.requests_for("summarize")
    chunks = [request.json["inputs"] for request in requests[: result["chunks"]]]
    [combine] = requests[result["chunks"] :]
    assert (result["chunks"], result["rounds"]) == (3, 2)
    assert all(estimate_tokens(chunk) <= BUDGET for chunk in chunks), "each chunk fits the model"
    assert " ".join(chunks).split() == DOCUMENT.split(), "every word once, in order"
    assert all(chunk.endswith(".") for chunk in chunks), "chunks end between sentences"
    partials = [summary_for(chunk, 20) for chunk in chunks]
    assert combine.json["inputs"] == PARTIALS_SEPARATOR.join(partials), "the partial summaries, in order"
    assert result["summary"] == summary_for(combine.json["inputs"], 20)
    for request in requests:
        assert request.json["parameters"]["generate_parameters"] == {"min_length": 5, "max_length": 20}
        assert request.headers["authorization"] == f"Bearer {TEST_TOKEN}"


def test_summarize_still_returns_only_the_summary_text(summarize_app, server):
    document = summarize_app.predict(DOCUMENT, 5, 20, api_name="/summarize_document")
    server.clear()

    summary = summarize_app.predict(DOCUMENT, 5, 20, api_name="/summarize")

    assert summary == document["summary"]
    assert len(server.requests_for("summarize")) == document["chunks"] + 1


def test_summaries_too_long_to_read_at_once_are_combined_over_more_rounds(summarize_app, server):
    # Sentences of about 600 characters make partial summaries of about 600 characters each.
    document = " ".join(long_sentence(number, 100) for number in range(40))

    result = summarize_app.predict(document, 1, 120, api_name="/summarize_document")

    assert result["rounds"] == 3
    requests = server.requests_for("summarize")
    second_round = requests[result["chunks"] : -1]
    assert len(second_round) >= 2
    assert all(estimate_tokens(request.json["inputs"]) <= BUDGET for request in requests)
    assert result["summary"] == summary_for(requests[-1].json["inputs"], 120)


def test_the_page_reports_how_a_text_was_split(summarize_app, server):
    summary, report = summarize_app.predict(DOCUMENT, 5, 20, api_name="/summarize_with_report")

    assert summary == summary_for(server.requests_for("summarize")[-1].json["inputs"], 20)
    assert "split between sentences into 3 chunks and summarized in 2 rounds" in report

    _, whole = summarize_app.predict(EIFFEL, 30, 130, api_name="/summarize_with_report")
    assert whole == "The model read the text whole, in one chunk."


def test_the_report_comes_in_the_visitors_language(summarize_app):
    chinese = Client(summarize_app.src, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    _, report = chinese.predict(DOCUMENT, 5, 20, api_name="/summarize_with_report")

    assert "切分成 3 块" in report and "共经过 2 轮摘要" in report


def test_progress_names_each_chunk_and_round(summarize_app, server):
    server.latency = 0.25
    job = summarize_app.submit(DOCUMENT, 5, 20, api_name="/summarize")
    shown: list[str] = []
    while not job.done():
        for unit in job.status().progress_data or []:
            if unit.desc and unit.desc not in shown:
                shown.append(unit.desc)
        time.sleep(0.02)

    assert job.result() == summary_for(server.requests_for("summarize")[-1].json["inputs"], 20)
    assert shown == [
        "Summarizing chunk 1 of 3",
        "Summarizing chunk 2 of 3",
        "Summarizing chunk 3 of 3",
        "Combining summaries, round 2: part 1 of 1",
    ]


def failure(client: Client, *args: object, api_name: str) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=api_name)
    return str(caught.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((EIFFEL, 50, 20), "min_length (50) must not exceed max_length (20)"),
        ((EIFFEL, 5, 2000), "max_length must be between 8 and 1024"),
        ((EIFFEL, 2.5, 20), "min_length must be a whole number"),
        (("word " * 25_000, 5, 20), "the limit is 100,000"),
    ],
)
def test_the_document_endpoint_checks_its_input_before_the_model(summarize_app, server, args, expected):
    assert expected in failure(summarize_app, *args, api_name="/summarize_document")
    assert server.requests_for("summarize") == []


def test_summaries_that_cannot_shrink_are_refused_with_what_to_change(summarize_app, server):
    # Each chunk's first sentence nearly fills a chunk, so its summary is as long as the chunk.
    document = " ".join(long_sentence(number, 450) for number in range(3))

    message = failure(summarize_app, document, 1, 1024, api_name="/summarize")

    assert "too long to combine" in message and "Lower max_length (now 1024)" in message


local_summarize_app = app_fixture("summarize", "local_settings")


def chunk_count(text: str, count) -> int:
    return len(asyncio.run(split_to_fit(text, BUDGET, count)))


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_a_local_model_splits_by_its_own_tokenizer(local_summarize_app, tiny_models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models.summarize)

    async def exact(text: str) -> int:
        return len(tokenizer(text)["input_ids"])

    async def estimated(text: str) -> int:
        return estimate_tokens(text)

    result = local_summarize_app.predict(DOCUMENT, 4, 12, api_name="/summarize_document")

    assert tokenizer.model_max_length - RESERVED_TOKENS == BUDGET
    assert result["chunks"] == chunk_count(DOCUMENT, exact) > 1
    assert result["chunks"] != chunk_count(DOCUMENT, estimated), "counted by the tokenizer, not estimated"
    assert result["rounds"] >= 2
    assert isinstance(result["summary"], str) and result["summary"].strip()


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_a_local_model_summarizes_a_long_document_and_reports_it(local_summarize_app):
    summary, report = local_summarize_app.predict(DOCUMENT, 4, 12, api_name="/summarize_with_report")

    assert summary.strip()
    assert "split between sentences into" in report
    assert isinstance(local_summarize_app.predict(DOCUMENT, 4, 12, api_name="/summarize"), str)


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_a_document_over_the_chunk_limit_is_refused(local_summarize_app):
    # The tiny tokenizer's small vocabulary makes about one token per two characters.
    document = " ".join(f"Sentence {number} says little. " for number in range(3_000))

    message = failure(local_summarize_app, document, api_name="/summarize")

    assert f"the limit is {MAX_CHUNKS}" in message
