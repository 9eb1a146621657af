"""Local backends: transformers and diffusers models run in this process.

Used when a task has neither an endpoint URL nor a token, or with INFERENCE_BACKEND=local. A model is
loaded on first use, once per process, whichever app asks first; a process that serves one app loads
only that app's model. torch, transformers and diffusers are imported only here and only when a
model loads, so the remote-only Space folders never need them.

Model calls run in worker threads: the event loop keeps serving other visitors meanwhile.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from common.backends.base import ImageRequest, StepCallback, Token
from common.chat import Message, fold_system_message
from common.errors import InferenceError, LocalRuntimeError, StreamInterruptedError, phrase
from common.images import EncodedImage
from common.settings import TaskSettings

T = TypeVar("T")

# Longest wait for the next streamed token before the reply counts as stalled.
STREAM_TOKEN_TIMEOUT = 120.0
CAPTION_MAX_TOKENS = 40
FAILED_LOAD_MEMORY = 60.0
# Text no chat template writes by itself: a rendered prompt that lacks it dropped the system message.
SYSTEM_PROBE = "System message probe 7f3a"


@dataclass(frozen=True)
class Device:
    """Where models run and in which precision: half precision on a GPU, full on the CPU."""

    name: str
    dtype: Any


def pick_device() -> Device:
    """CUDA, then Apple MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.float16)
    if torch.backends.mps.is_available():
        return Device("mps", torch.float16)
    return Device("cpu", torch.float32)


class _ModelCache:
    """Loaded models by key, each loaded exactly once even when first requested concurrently.

    A load that failed is not tried again for a minute: offline, the Hub client retries for tens of
    seconds before giving up, and every visitor in that minute would wait as long for the same error.
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, ...], Any] = {}
        self._failures: dict[tuple[str, ...], tuple[float, InferenceError]] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._models:
                failed_at, failure = self._failures.get(key, (-FAILED_LOAD_MEMORY, None))
                if failure is not None and time.monotonic() - failed_at < FAILED_LOAD_MEMORY:
                    raise failure
                try:
                    self._models[key] = load()
                except InferenceError as error:
                    self._failures[key] = (time.monotonic(), error)
                    raise
            return self._models[key]

    def loaded(self) -> list[tuple[str, ...]]:
        """Keys of the models loaded so far in this process."""
        with self._guard:
            return list(self._models)


MODELS = _ModelCache()


class LocalBackend:
    """Shared plumbing: lazy loading in a worker thread and translation of load failures."""

    def __init__(self, config: TaskSettings) -> None:
        self.config = config
        self.where = config.model

    def load(self) -> Any:
        raise NotImplementedError

    def model(self) -> Any:
        """The loaded model, loading it now if this is the first use in the process."""
        return MODELS.get((type(self).__name__, self.config.model), self._load_or_explain)

    async def run(self, work: Callable[[Any], T]) -> T:
        """Run `work(model)` in a worker thread, loading the model first if needed."""
        return await asyncio.to_thread(lambda: self._explain_failures(lambda: work(self.model())))

    def _load_or_explain(self) -> Any:
        return self._explain_failures(self.load)

    def _explain_failures(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except InferenceError:
            raise
        except ImportError as error:
            missing = phrase("detail_not_installed", library=error.name or "a library")
            raise LocalRuntimeError(self.where, missing) from error
        except OSError as error:  # hub errors (not found, gated, offline) are OSErrors
            raise LocalRuntimeError(
                self.where, phrase("detail_cannot_load", reason=_first_line(error))
            ) from error
        except RuntimeError as error:
            if "out of memory" in str(error).lower():
                raise LocalRuntimeError(self.where, phrase("detail_out_of_memory")) from error
            raise


def input_limit(tokenizer: Any, model: Any) -> int:
    """The longest sequence the model takes: its position embeddings, or else its tokenizer's limit.

    Tokenizers without a limit report a huge sentinel (about 1e30), so the smaller figure wins.
    """
    positions = getattr(model.config, "max_position_embeddings", None)
    limits = [limit for limit in (positions, tokenizer.model_max_length) if isinstance(limit, int)]
    return min(limits) if limits else 512


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__).rstrip(".") + "."


class LocalSummarizer(LocalBackend):
    def load(self) -> tuple[Any, Any]:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        device = pick_device()
        tokenizer = AutoTokenizer.from_pretrained(self.config.model)
        model = AutoModelForSeq2SeqLM.from_pretrained(self.config.model, dtype=device.dtype).to(device.name)
        return tokenizer, model.eval()

    async def max_input_tokens(self) -> int:
        return await self.run(lambda loaded: input_limit(*loaded))

    async def count_tokens(self, text: str) -> int:
        return await self.run(lambda loaded: len(loaded[0](text, add_special_tokens=True)["input_ids"]))

    async def summarize(self, text: str, *, min_length: int, max_length: int, token: Token = None) -> str:
        def work(loaded: tuple[Any, Any]) -> str:
            import torch

            tokenizer, model = loaded
            inputs = tokenizer(text, return_tensors="pt", truncation=True).to(model.device)
            with torch.inference_mode():
                output = model.generate(**inputs, min_length=min_length, max_length=max_length)
            return tokenizer.decode(output[0], skip_special_tokens=True).strip()

        return await self.run(work)


class LocalTokenClassifier(LocalBackend):
    def load(self) -> Any:
        from transformers import pipeline

        device = pick_device()
        return pipeline(
            "token-classification",
            model=self.config.model,
            aggregation_strategy="simple",
            device=device.name,
            dtype=device.dtype,
        )

    async def classify_tokens(self, text: str, token: Token = None) -> list[dict[str, Any]]:
        def work(classifier: Any) -> list[dict[str, Any]]:
            # Scores come back as numpy floats, which JSON (and Gradio) cannot serialise.
            return [{**entity, "score": float(entity["score"])} for entity in classifier(text)]

        return await self.run(work)


class LocalCaptioner(LocalBackend):
    def load(self) -> tuple[Any, Any]:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = pick_device()
        processor = AutoProcessor.from_pretrained(self.config.model)
        model = AutoModelForImageTextToText.from_pretrained(self.config.model, dtype=device.dtype)
        return processor, model.to(device.name).eval()

    async def caption(self, image: EncodedImage, token: Token = None) -> str:
        def work(loaded: tuple[Any, Any]) -> str:
            import torch

            processor, model = loaded
            # Decoding a large photo takes a second or more: here, not on the event loop.
            inputs = processor(images=image.decode(), return_tensors="pt").to(model.device, model.dtype)
            with torch.inference_mode():
                output = model.generate(**inputs, max_new_tokens=CAPTION_MAX_TOKENS)
            return processor.decode(output[0], skip_special_tokens=True).strip()

        return await self.run(work)


class LocalImageGenerator(LocalBackend):
    def __init__(self, config: TaskSettings) -> None:
        super().__init__(config)
        # A diffusers pipeline keeps scheduler state between steps: one generation at a time.
        self._generating = threading.Lock()

    def load(self) -> Any:
        from diffusers import AutoPipelineForText2Image

        device = pick_device()
        pipeline = AutoPipelineForText2Image.from_pretrained(self.config.model, dtype=device.dtype)
        pipeline.set_progress_bar_config(disable=True)
        return pipeline.to(device.name)

    async def generate(
        self, request: ImageRequest, on_step: StepCallback | None = None, token: Token = None
    ) -> Image.Image:
        def report_step(pipeline: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            # Some schedulers (PNDM, SD 1.5's) run more timesteps than inference steps.
            if on_step is not None:
                on_step(step + 1, pipeline.num_timesteps)
            return tensors

        def work(pipeline: Any) -> Image.Image:
            import torch

            generator = torch.Generator(device="cpu").manual_seed(request.seed)
            with self._generating, torch.inference_mode():
                result = pipeline(
                    request.prompt,
                    negative_prompt=request.negative_prompt or None,
                    num_inference_steps=request.steps,
                    guidance_scale=request.guidance,
                    width=request.width,
                    height=request.height,
                    generator=generator,
                    callback_on_step_end=report_step,
                )
            return result.images[0]

        return await self.run(work)


@dataclass(frozen=True)
class ChatModel:
    """A loaded chat model, with whether its chat template has a system role."""

    tokenizer: Any
    model: Any
    takes_system: bool

    def prompt_messages(self, messages: list[Message]) -> list[Message]:
        """The messages as the template can render them: without a system role, the system message
        opens the first user message instead of vanishing."""
        return messages if self.takes_system else fold_system_message(messages)


def takes_system_message(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders a system message: Gemma's raises, others leave
    it out of the prompt without a word."""
    from jinja2.exceptions import TemplateError

    probe = [{"role": "system", "content": SYSTEM_PROBE}, {"role": "user", "content": "Hello"}]
    try:
        prompt = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except TemplateError:
        return False
    return SYSTEM_PROBE in prompt


class LocalChat(LocalBackend):
    def load(self) -> ChatModel:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = pick_device()
        tokenizer = AutoTokenizer.from_pretrained(self.config.model)
        model = AutoModelForCausalLM.from_pretrained(self.config.model, dtype=device.dtype)
        return ChatModel(tokenizer, model.to(device.name).eval(), takes_system_message(tokenizer))

    async def context_window(self) -> int:
        return await self.run(lambda loaded: input_limit(loaded.tokenizer, loaded.model))

    async def count_tokens(self, messages: list[Message]) -> int:
        def count(loaded: ChatModel) -> int:
            prompt = loaded.tokenizer.apply_chat_template(
                loaded.prompt_messages(messages), add_generation_prompt=True, return_dict=True
            )
            return len(prompt["input_ids"])

        return await self.run(count)

    async def stream_reply(
        self, messages: list[Message], *, temperature: float, max_tokens: int, token: Token = None
    ) -> AsyncGenerator[str, None]:
        """Generate in a worker thread and hand tokens over as they come.

        Closing this generator (the visitor pressed stop) sets `stop`, which ends generation at the
        next token instead of letting the model run to `max_tokens` for nobody.
        """

        def prepare(loaded: ChatModel) -> tuple[Any, Any, Any]:
            # Templating a long conversation takes a while: in the worker, not on the event loop.
            prompt = loaded.tokenizer.apply_chat_template(
                loaded.prompt_messages(messages),
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            return loaded.tokenizer, loaded.model, prompt.to(loaded.model.device)

        tokenizer, model, inputs = await self.run(prepare)
        from transformers import StoppingCriteria, TextIteratorStreamer

        stop = threading.Event()
        failures: list[InferenceError] = []

        class StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stop.is_set()

        streamer = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TOKEN_TIMEOUT
        )

        def generate() -> None:
            try:
                self._explain_failures(
                    lambda: model.generate(
                        **inputs,
                        streamer=streamer,
                        max_new_tokens=max_tokens,
                        do_sample=True,
                        temperature=temperature,
                        stopping_criteria=[StopWhenAsked()],
                    )
                )
            except InferenceError as error:
                failures.append(error)
                streamer.end()  # wake the reader instead of leaving it to time out

        threading.Thread(target=generate, daemon=True).start()
        tokens = iter(streamer)
        try:
            while (text := await asyncio.to_thread(next, tokens, None)) is not None:
                if text:
                    yield text
        except queue.Empty:
            stalled = phrase("detail_stalled", seconds=STREAM_TOKEN_TIMEOUT)
            raise StreamInterruptedError(self.where, stalled) from None
        finally:
            stop.set()
        if failures:
            raise failures[0]
