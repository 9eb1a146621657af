"""One in-process model, many callers: every use of a model runs on its own thread, calls that wait
together run as one batch, and a failure reaches its caller at once with its own cause."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client, handle_file

from common.backends.local import LocalChat, LocalSummarizer, LocalTokenClassifier
from common.backends.model_worker import Job, ModelCache
from common.reasoning import ReplyDelta
from scripts import serve
from scripts.serving import serving
from tests.harness import ROOT

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("hub_offline")]

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
LION = ROOT / "spaces/caption/examples/lion.jpg"
SENTENCES = [
    "My name is Andrew and I work at DeepLearningAI in California.",
    "Vienna is the capital of Austria, and Berlin is the capital of Germany.",
    "Sarah Johnson met the President of Microsoft in Seattle on Monday.",
    "The United Nations announced a climate summit in Geneva, Switzerland.",
]


async def gathered(*calls):
    return await asyncio.gather(*calls)


def test_a_shared_tokenizer_counts_and_truncates_for_many_callers_at_once(local_settings):
    summarizer = LocalSummarizer(local_settings.summarize)
    long_text = " ".join([EIFFEL] * 12)  # past the model's input: summarizing truncates, counting does not

    calls = [summarizer.count_tokens(long_text) for _ in range(8)]
    calls += [summarizer.summarize(long_text, min_length=2, max_length=8) for _ in range(8)]
    results = asyncio.run(gathered(*calls))

    counts, summaries = results[:8], results[8:]
    assert set(counts) == {5029}, "the whole text counted, however many calls truncated it meanwhile"
    assert all(isinstance(summary, str) and summary for summary in summaries)
    assert max(summarizer.worker().batch_sizes) > 1, "calls that waited together ran as one batch"


def test_entities_of_a_batch_are_those_of_each_sentence_alone(local_settings):
    classifier = LocalTokenClassifier(local_settings.ner)
    alone = [asyncio.run(classifier.classify_tokens(sentence)) for sentence in SENTENCES]
    calls_before = len(classifier.worker().batch_sizes)

    together = asyncio.run(gathered(*(classifier.classify_tokens(sentence) for sentence in SENTENCES)))

    assert [[(e["word"], e["start"], e["end"], e["entity_group"]) for e in r] for r in together] == [
        [(e["word"], e["start"], e["end"], e["entity_group"]) for e in r] for r in alone
    ]
    assert [[round(e["score"], 4) for e in r] for r in together] == [
        [round(e["score"], 4) for e in r] for r in alone
    ]
    model_calls = classifier.worker().batch_sizes[calls_before:]
    assert sum(model_calls) == 4 and len(model_calls) < 4, "sentences that waited together ran as one batch"


def test_a_failed_item_of_a_batch_fails_alone():
    release = threading.Event()

    def hold(model: str, items: list[None]) -> list[None]:
        release.wait(5)
        return [None for _ in items]

    def shout(model: str, words: list[str]) -> list[str]:
        if "boom" in words:
            raise ValueError("this item cannot be shouted")
        return [f"{model}: {word.upper()}" for word in words]

    worker = ModelCache().worker(("shouter",), lambda: "model", lambda action: action())
    busy = worker.submit(Job(hold, None))
    futures = [worker.submit(Job(shout, word, kind="shout", max_batch=8)) for word in ("a", "boom", "c")]
    release.set()

    assert busy.result(5) is None
    assert futures[0].result(5) == "model: A"
    with pytest.raises(ValueError, match="this item cannot be shouted"):
        futures[1].result(5)
    assert futures[2].result(5) == "model: C"
    assert worker.batch_sizes == [1, 3], "the three waited together; their batch failed, so each ran alone"


def test_a_model_is_loaded_once_for_callers_from_many_threads():
    cache, loads = ModelCache(), []

    def load() -> object:
        loads.append(1)
        return object()

    def first_use(_: int) -> object:
        worker = cache.worker(("m",), load, lambda action: action())
        return worker.submit(Job(lambda model, items: [model for _ in items], None)).result(5)

    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(first_use, range(8)))

    assert len(loads) == 1
    assert len({id(model) for model in models}) == 1


def test_a_generation_that_dies_ends_the_reply_at_once_with_its_own_cause(local_settings):
    chat = LocalChat(local_settings.chat)

    async def reply() -> list[ReplyDelta]:
        # Sampling at temperature 0 is refused by transformers inside generation, on its thread.
        stream = chat.stream_reply([{"role": "user", "content": "Hello"}], temperature=0.0, max_tokens=8)
        return [piece async for piece in stream]

    with pytest.raises(ValueError, match="has to be a strictly positive float"):
        asyncio.run(reply())


def test_every_endpoint_of_an_app_at_once_on_one_model(local_settings):
    app = serve.build_app(local_settings, mcp_server=False)
    with serving(app) as served:
        summarize = Client(f"{served.url}/summarize/", verbose=False)
        ner = Client(f"{served.url}/ner/", verbose=False)
        jobs = [summarize.submit(EIFFEL, 2, 12, api_name="/summarize") for _ in range(3)]
        jobs += [summarize.submit(EIFFEL, 2, 12, api_name="/summarize_document") for _ in range(3)]
        jobs += [ner.submit(sentence, api_name="/ner") for sentence in SENTENCES]
        jobs += [ner.submit(sentence, api_name="/entities") for sentence in SENTENCES]
        results = [job.result(timeout=120) for job in jobs]

    summaries = {results[index] for index in range(3)} | {results[index]["summary"] for index in range(3, 6)}
    assert len(summaries) == 1, "one text, one summary, whichever endpoint and however many at once"
    assert [result["chunks"] for result in results[3:6]] == [1, 1, 1]
    for sentence, spans in zip(SENTENCES, results[6:10], strict=True):
        assert "".join(span["token"] for span in spans) == sentence
    assert [len(entities) for entities in results[10:]] == [
        sum(1 for span in spans if span["class_or_confidence"]) for spans in results[6:10]
    ]


def test_two_apps_sharing_a_model_under_serve_all_caption_at_once(local_settings):
    app = serve.build_app(local_settings, mcp_server=False)
    with serving(app) as served:
        caption = Client(f"{served.url}/caption/", verbose=False)
        game = Client(f"{served.url}/game/", verbose=False)
        jobs = [client.submit(handle_file(str(LION)), api_name="/caption") for client in (caption, game) * 3]
        captions = [job.result(timeout=120) for job in jobs]

    assert len(set(captions)) == 1 and captions[0].strip(), "one model, one image, one caption"
