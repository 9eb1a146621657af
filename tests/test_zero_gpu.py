"""ZeroGPU, as far as it runs without a ZeroGPU Space: with the `spaces` package installed, model
calls that need a GPU go through the `@spaces.GPU` functions with a duration that fits the task,
work that needs none (counting tokens) stays in the app's process, and models load before serving."""

from __future__ import annotations

import asyncio

import pytest

import spaces
from common.backends import local, zero_gpu
from common.backends.base import ImageRequest
from common.backends.model_worker import ModelCache
from common.errors import ReplyAtTokenLimitError
from common.reasoning import ReplyDelta
from scripts.serve import load_app
from testing.apps import settings_from
from testing.tiny_models import TinyModels

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("hub_offline")]


@pytest.fixture
def on_zero_gpu(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, float]]:
    """This process taken for a ZeroGPU Space; records (function, work, seconds) of each GPU call.

    Off a ZeroGPU Space `spaces.GPU` returned the functions unchanged, so they run here as they
    would in the GPU process: finding the model by its key among those loaded."""
    calls: list[tuple[str, str, float]] = []
    run, stream = zero_gpu.run, zero_gpu.stream

    def recorded_run(key, work, items, seconds):
        calls.append(("run", work.__name__, seconds))
        return run(key, work, items, seconds)

    def recorded_stream(key, work, item, seconds):
        calls.append(("stream", work.__name__, seconds))
        return stream(key, work, item, seconds)

    monkeypatch.setattr(zero_gpu, "enabled", lambda: True)
    monkeypatch.setattr(zero_gpu, "run", recorded_run)
    monkeypatch.setattr(zero_gpu, "stream", recorded_stream)
    monkeypatch.setattr(local, "MODELS", ModelCache())
    return calls


@pytest.fixture
def summarize_app():
    """The app's module, imported (which builds its default demo) before ZeroGPU is pretended."""
    return load_app("summarize")


def settings(tiny_models: TinyModels):
    return settings_from(
        {
            "INFERENCE_BACKEND": "local",
            "SUMMARY_MODEL": str(tiny_models.summarize),
            "IMAGEGEN_MODEL": str(tiny_models.imagegen),
            "CHAT_MODEL": str(tiny_models.chat),
        }
    )


def test_the_spaces_package_leaves_functions_unchanged_off_zero_gpu():
    def task() -> str:
        return "ran here"

    assert spaces.GPU(duration=10)(task) is task
    assert zero_gpu.enabled() is False


def test_gpu_work_goes_through_spaces_gpu_and_token_counting_does_not(tiny_models, on_zero_gpu):
    summarizer = local.LocalSummarizer(settings(tiny_models).summarize)

    async def use() -> tuple[int, str]:
        return await summarizer.count_tokens("Paris is in France."), await summarizer.summarize(
            "Paris is in France. It is the capital.", min_length=2, max_length=8
        )

    tokens, summary = asyncio.run(use())

    assert tokens == 10 and summary.strip()
    assert on_zero_gpu == [("run", "summarize_texts", 20.0)]


def test_an_image_asks_for_gpu_time_by_its_steps_and_size(tiny_models, on_zero_gpu):
    generator = local.LocalImageGenerator(settings(tiny_models).imagegen)
    request = ImageRequest("a lighthouse", "", steps=2, guidance=7.0, width=64, height=64, seed=1)

    image = asyncio.run(generator.generate(request))

    assert image.size == (64, 64)
    assert on_zero_gpu == [("run", "generate_images", 10.0 + 0.2 * 2 * (64 * 64) / 512**2)]


def test_a_chat_reply_streams_from_the_gpu_process_with_time_for_its_tokens(tiny_models, on_zero_gpu):
    chat = local.LocalChat(settings(tiny_models).chat)

    pieces: list[ReplyDelta] = []

    async def reply() -> None:
        stream = chat.stream_reply([{"role": "user", "content": "Hello"}], temperature=0.7, max_tokens=6)
        async for piece in stream:
            pieces.append(piece)

    # Random weights never end their turn: the reply streams to its limit, which it reports.
    with pytest.raises(ReplyAtTokenLimitError):
        asyncio.run(reply())

    assert pieces and all(isinstance(piece, ReplyDelta) and not piece.reasoning for piece in pieces)
    assert on_zero_gpu == [("stream", "stream_reply", 10.6)]


def test_on_zero_gpu_an_app_loads_its_models_before_it_serves(tiny_models, summarize_app, on_zero_gpu):
    summarize_app.build_demo(settings(tiny_models))

    assert local.MODELS.loaded() == [("LocalSummarizer", str(tiny_models.summarize))]
    assert on_zero_gpu == [], "loading needs no GPU"
