"""Local backends: transformers and diffusers models run in this process.

Used when a task has neither an endpoint URL nor a token, or with INFERENCE_BACKEND=local. A model is
loaded on first use, once per process, whichever app asks first; a process that serves one app loads
only that app's model. torch, transformers and diffusers are imported only here and only when a
model loads, so the remote-only Space folders never need them.

Every use of a model runs on its own thread (`common.backends.model_worker`), never two at once, and
requests of one kind that wait together run as one batch: one padded forward pass for eight
sentences costs about half of eight passes. The work itself is in module-level functions of
`(model, items)`, which ZeroGPU can run in its GPU process (`common.backends.zero_gpu`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncGenerator, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from PIL import Image

from common.backends import zero_gpu
from common.backends.base import ImageRequest, StepCallback, Token
from common.backends.hub_access import model_source
from common.backends.model_worker import MODELS, Job, ModelWorker
from common.chat import Message, fold_system_message
from common.errors import (
    InferenceError,
    LocalRuntimeError,
    ReplyAtTokenLimitError,
    StreamInterruptedError,
    phrase,
)
from common.images import EncodedImage
from common.reasoning import OPEN_TAG, ReplyDelta, ThinkTagSplitter
from common.settings import Settings, Task, TaskSettings

T = TypeVar("T")

# Longest wait for the next streamed token, once generation has started, before the reply counts
# as stalled.
STREAM_TOKEN_TIMEOUT = 120.0
CAPTION_MAX_TOKENS = 40
# Text no chat template writes by itself: a rendered prompt that lacks it dropped the system message.
SYSTEM_PROBE = "System message probe 7f3a"
# Most requests one model call serves at once. Larger batches gain little on a CPU and make the
# last request of a batch wait for all the others.
TEXT_BATCH = 8
SUMMARY_BATCH = 4
# A batch of images multiplies the UNet's memory; on a CPU it saves nothing, so one at a time.
GPU_IMAGE_BATCH = 4
# The GPU time one item may take on ZeroGPU, generously: a visitor whose call is cut loses it all.
GPU_SECONDS_PER_SUMMARY = 20.0
GPU_SECONDS_PER_TEXT = 2.0
GPU_SECONDS_PER_CAPTION = 5.0
GPU_SECONDS_PER_IMAGE_STEP = 0.2  # at 512x512 on ZeroGPU's H200 slices; scaled by the pixel count
GPU_SECONDS_PER_CHAT_TOKEN = 0.1
GPU_SECONDS_TO_START = 10.0


@dataclass(frozen=True)
class Device:
    """Where models run and in which precision: half precision on a GPU, full on the CPU."""

    name: str
    dtype: Any


@cache
def pick_device() -> Device:
    """CUDA (ZeroGPU's included), then Apple MPS, then the CPU; asked once, as it never changes while
    the process runs (every image request asks whether it may batch)."""
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.float16)
    if torch.backends.mps.is_available():
        return Device("mps", torch.float16)
    return Device("cpu", torch.float32)


def requests_batched(task: Task) -> int:
    """How many requests of `task` one model call serves at once: what its events may run together."""
    if task == "imagegen":
        return GPU_IMAGE_BATCH if pick_device().name != "cpu" else 1
    return {"summarize": SUMMARY_BATCH, "ner": TEXT_BATCH, "caption": TEXT_BATCH, "chat": 1}[task]


def preload(settings: Settings, tasks: Sequence[Task]) -> None:
    """On ZeroGPU, load the in-process models of `tasks` now: the GPU process is forked at the first
    GPU call and sees only the models loaded by then. Elsewhere models load on first use."""
    if not zero_gpu.enabled():
        return
    for task in tasks:
        if settings.backend_for(task) == "local":
            backend = LOCAL_BACKENDS[task](settings.for_task(task))
            backend.model()


def the_model(model: Any, items: list[None]) -> list[Any]:
    """The loaded model itself: work submitted to have the model loaded, or to hand it over."""
    return [model for _ in items]


class LocalBackend:
    """Shared plumbing: the model's worker, and translation of load and run failures."""

    def __init__(self, config: TaskSettings) -> None:
        self.config = config
        self.where = config.model

    def load(self, source: str) -> Any:
        """Load the model from `source`: a local directory, or a hub id to download."""
        raise NotImplementedError

    def model(self) -> Any:
        """The loaded model, loading it now if this is its first use in the process."""
        return self.worker().submit(Job(the_model, None)).result()

    def worker(self) -> ModelWorker:
        """The thread that owns this backend's model, shared with every backend of the same model."""
        return MODELS.worker((type(self).__name__, self.config.model), self._load, self._explain_failures)

    async def run(
        self,
        work: Callable[[Any, list[Any]], list[T]],
        item: Any,
        *,
        kind: Hashable | None = None,
        max_batch: int = 1,
        gpu_seconds: float = 0.0,
    ) -> T:
        """`work(model, [item])[0]`, batched with waiting calls of the same `kind`, loading the model
        first if this is its first use in the process."""
        return await self.worker().run(Job(work, item, kind, max_batch, gpu_seconds))

    def _load(self) -> Any:
        return self.load(model_source(self.config))

    def _explain_failures(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except InferenceError:
            raise
        except ImportError as error:
            missing = phrase("detail_not_installed", library=error.name or "a library")
            raise LocalRuntimeError(self.where, missing) from error
        except OSError as error:  # hub errors (not found, gated) are OSErrors
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


@dataclass(frozen=True)
class SummaryRequest:
    text: str
    min_length: int
    max_length: int


def summarizer_limits(loaded: tuple[Any, Any], items: list[None]) -> list[int]:
    return [input_limit(*loaded) for _ in items]


def count_text_tokens(loaded: tuple[Any, Any], texts: list[str]) -> list[int]:
    return [len(ids) for ids in loaded[0](texts, add_special_tokens=True)["input_ids"]]


def summarize_texts(loaded: tuple[Any, Any], requests: list[SummaryRequest]) -> list[str]:
    """Summaries of texts that share their length limits, generated together (padded)."""
    import torch

    tokenizer, model = loaded
    texts = [request.text for request in requests]
    inputs = tokenizer(texts, return_tensors="pt", truncation=True, padding=True).to(model.device)
    with torch.inference_mode():
        output = model.generate(
            **inputs, min_length=requests[0].min_length, max_length=requests[0].max_length
        )
    return [summary.strip() for summary in tokenizer.batch_decode(output, skip_special_tokens=True)]


class LocalSummarizer(LocalBackend):
    def load(self, source: str) -> tuple[Any, Any]:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        device = pick_device()
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=device.dtype).to(device.name)
        return tokenizer, model.eval()

    async def max_input_tokens(self) -> int:
        return await self.run(summarizer_limits, None)

    async def count_tokens(self, text: str) -> int:
        return await self.run(count_text_tokens, text, kind="count", max_batch=TEXT_BATCH)

    async def summarize(self, text: str, *, min_length: int, max_length: int, token: Token = None) -> str:
        return await self.run(
            summarize_texts,
            SummaryRequest(text, min_length, max_length),
            kind=("summarize", min_length, max_length),
            max_batch=SUMMARY_BATCH,
            gpu_seconds=GPU_SECONDS_PER_SUMMARY,
        )


def classify_texts(classifier: Any, texts: list[str]) -> list[list[dict[str, Any]]]:
    """Entities of each text, from one padded forward pass for all of them.

    The pipeline's own steps tokenize each text and merge its word pieces into entities; only the
    forward pass is shared, which is what batching saves (the pipeline's own batching runs its
    per-item overhead all the same).
    """
    import torch
    from transformers.pipelines import AggregationStrategy

    encoded = [next(iter(classifier.preprocess(text, is_split_into_words=False))) for text in texts]
    pad_id = classifier.tokenizer.pad_token_id or 0
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in encoded[0]]
    padding = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 0}
    batch = {
        name: torch.nn.utils.rnn.pad_sequence(
            [inputs[name][0] for inputs in encoded], batch_first=True, padding_value=padding[name]
        ).to(classifier.device)
        for name in names
    }
    with torch.inference_mode():
        logits = classifier.model(**batch).logits.float().cpu()
    results = []
    for row, inputs in enumerate(encoded):
        length = inputs["input_ids"].shape[1]
        outputs = {
            **inputs,
            "logits": logits[row : row + 1, :length],
            "word_ids": None,
            "word_to_chars_map": None,
        }
        entities = classifier.postprocess([outputs], aggregation_strategy=AggregationStrategy.SIMPLE)
        # Scores come back as numpy floats, which JSON (and Gradio) cannot serialise.
        results.append([{**entity, "score": float(entity["score"])} for entity in entities])
    return results


class LocalTokenClassifier(LocalBackend):
    def load(self, source: str) -> Any:
        from transformers import pipeline

        device = pick_device()
        return pipeline(
            "token-classification",
            model=source,
            aggregation_strategy="simple",
            device=device.name,
            dtype=device.dtype,
        )

    async def classify_tokens(self, text: str, token: Token = None) -> list[dict[str, Any]]:
        return await self.run(
            classify_texts, text, kind="classify", max_batch=TEXT_BATCH, gpu_seconds=GPU_SECONDS_PER_TEXT
        )


def caption_images(loaded: tuple[Any, Any], images: list[EncodedImage]) -> list[str]:
    """One caption per image, generated together."""
    import torch

    processor, model = loaded
    # Decoding a large photo takes a second or more: here, not on the event loop.
    pictures = [image.decode() for image in images]
    inputs = processor(images=pictures, return_tensors="pt").to(model.device, model.dtype)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=CAPTION_MAX_TOKENS)
    return [caption.strip() for caption in processor.batch_decode(output, skip_special_tokens=True)]


class LocalCaptioner(LocalBackend):
    def load(self, source: str) -> tuple[Any, Any]:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = pick_device()
        processor = AutoProcessor.from_pretrained(source)
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=device.dtype)
        return processor, model.to(device.name).eval()

    async def caption(self, image: EncodedImage, token: Token = None) -> str:
        return await self.run(
            caption_images, image, kind="caption", max_batch=TEXT_BATCH, gpu_seconds=GPU_SECONDS_PER_CAPTION
        )


@dataclass(frozen=True)
class ImageJob:
    """A request and who hears of its steps (None on ZeroGPU: a callback cannot reach its process)."""

    request: ImageRequest
    on_step: StepCallback | None


def generate_images(pipeline: Any, jobs: list[ImageJob]) -> list[Image.Image]:
    """Images of requests that share steps, guidance and size, denoised together, each from its seed."""
    import torch

    first = jobs[0].request

    def report_step(pipeline: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        # Some schedulers (PNDM, SD 1.5's) run more timesteps than inference steps.
        for job in jobs:
            if job.on_step is not None:
                job.on_step(step + 1, pipeline.num_timesteps)
        return tensors

    with torch.inference_mode():
        result = pipeline(
            [job.request.prompt for job in jobs],
            negative_prompt=[job.request.negative_prompt for job in jobs]
            if any(job.request.negative_prompt for job in jobs)
            else None,
            num_inference_steps=first.steps,
            guidance_scale=first.guidance,
            width=first.width,
            height=first.height,
            generator=[torch.Generator(device="cpu").manual_seed(job.request.seed) for job in jobs],
            callback_on_step_end=report_step,
        )
    return result.images


class LocalImageGenerator(LocalBackend):
    def load(self, source: str) -> Any:
        from diffusers import AutoPipelineForText2Image

        device = pick_device()
        pipeline = AutoPipelineForText2Image.from_pretrained(source, dtype=device.dtype)
        pipeline.set_progress_bar_config(disable=True)
        return pipeline.to(device.name)

    async def generate(
        self, request: ImageRequest, on_step: StepCallback | None = None, token: Token = None
    ) -> Image.Image:
        on_gpu = pick_device().name != "cpu"
        pixels = (request.width or 512) * (request.height or 512) / 512**2
        return await self.run(
            generate_images,
            ImageJob(request, None if zero_gpu.enabled() else on_step),
            kind=("generate", request.steps, request.guidance, request.width, request.height),
            max_batch=GPU_IMAGE_BATCH if on_gpu else 1,
            gpu_seconds=GPU_SECONDS_TO_START + GPU_SECONDS_PER_IMAGE_STEP * request.steps * pixels,
        )


@dataclass(frozen=True)
class ChatModel:
    """A loaded chat model, with whether its chat template has a system role, and whether it opens a
    `<think>` block for the model to reason in before it answers."""

    tokenizer: Any
    model: Any
    takes_system: bool
    opens_thinking: bool = False

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


def opens_thinking(tokenizer: Any) -> bool:
    """Whether the chat template ends the prompt inside a `<think>` block, as the templates of
    DeepSeek-R1 and of Qwen3's thinking models do: the model's text then starts with its reasoning
    and holds only the closing tag. (A template that leaves the tag to the model needs nothing: the
    model writes both.)"""
    from jinja2.exceptions import TemplateError

    probe = [{"role": "user", "content": "Hello"}]
    try:
        prompt = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except TemplateError:
        return False
    return prompt.rstrip().endswith(OPEN_TAG)


@dataclass(frozen=True)
class ReplyRequest:
    where: str
    messages: list[Message]
    temperature: float
    max_tokens: int


def chat_limits(loaded: ChatModel, items: list[None]) -> list[int]:
    return [input_limit(loaded.tokenizer, loaded.model) for _ in items]


def count_chat_tokens(loaded: ChatModel, conversations: list[list[Message]]) -> list[int]:
    return [
        len(
            loaded.tokenizer.apply_chat_template(
                loaded.prompt_messages(messages), add_generation_prompt=True, return_dict=True
            )["input_ids"]
        )
        for messages in conversations
    ]


def stream_reply(loaded: ChatModel, request: ReplyRequest) -> Iterator[ReplyDelta]:
    """The reply as it is generated, its reasoning apart from its answer, on a thread of its own that
    ends when this generator does.

    Closing the generator (the visitor pressed stop) ends generation at the next token instead of
    letting the model run to `max_tokens` for nobody; a generation that dies, of anything, ends the
    stream at once with its own error; one that stops at `max_tokens` rather than at its end of turn
    says so, as a server's `finish_reason: "length"` does.
    """
    from transformers import StoppingCriteria, TextIteratorStreamer

    prompt = loaded.tokenizer.apply_chat_template(
        loaded.prompt_messages(request.messages),
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    ).to(loaded.model.device)
    stop = threading.Event()
    failures: list[BaseException] = []

    class StopWhenAsked(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return stop.is_set()

    streamer = TextIteratorStreamer(
        loaded.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TOKEN_TIMEOUT
    )

    at_limit: list[bool] = []

    def generate() -> None:
        try:
            output = loaded.model.generate(
                **prompt,
                streamer=streamer,
                max_new_tokens=request.max_tokens,
                do_sample=True,
                temperature=request.temperature,
                stopping_criteria=[StopWhenAsked()],
            )
            at_limit.append(
                reached_token_limit(loaded, output, prompt["input_ids"].shape[-1], request.max_tokens)
            )
        except BaseException as error:
            failures.append(error)
            streamer.end()  # wake the reader instead of leaving it to time out

    thread = threading.Thread(target=generate, name="chat generation", daemon=True)
    thread.start()
    content = ThinkTagSplitter(opened=loaded.opens_thinking)
    try:
        try:
            for text in streamer:
                yield from content.feed(text)
            yield from content.close()
        except queue.Empty:
            stalled = phrase("detail_stalled", seconds=STREAM_TOKEN_TIMEOUT)
            raise StreamInterruptedError(request.where, stalled) from None
    finally:
        stop.set()
        thread.join(timeout=STREAM_TOKEN_TIMEOUT)  # the model is free before the next call uses it
    if failures:
        raise failures[0]
    if at_limit == [True]:
        raise ReplyAtTokenLimitError(request.where, request.max_tokens)


def reached_token_limit(loaded: ChatModel, output: Any, prompt_length: int, max_tokens: int) -> bool:
    """Whether generation wrote `max_tokens` and its last token does not end the turn."""
    eos = loaded.model.generation_config.eos_token_id
    ends_turn = {eos} if isinstance(eos, int) else set(eos or ())
    return output.shape[-1] - prompt_length >= max_tokens and int(output[0, -1]) not in ends_turn


class LocalChat(LocalBackend):
    calls_tools = False

    def load(self, source: str) -> ChatModel:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = pick_device()
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=device.dtype)
        return ChatModel(
            tokenizer,
            model.to(device.name).eval(),
            takes_system_message(tokenizer),
            opens_thinking(tokenizer),
        )

    async def context_window(self) -> int:
        return await self.run(chat_limits, None)

    async def count_tokens(self, messages: list[Message]) -> int:
        return await self.run(count_chat_tokens, messages, kind="count", max_batch=TEXT_BATCH)

    async def stream_reply(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        token: Token = None,
    ) -> AsyncGenerator[ReplyDelta, None]:
        """The reply as it is generated, on the model's thread; closing this generator stops it.
        `tools` are never offered here (`calls_tools` is False)."""
        request = ReplyRequest(self.where, messages, temperature, max_tokens)
        seconds = GPU_SECONDS_TO_START + GPU_SECONDS_PER_CHAT_TOKEN * max_tokens
        pieces = self.worker().stream(Job(stream_reply, request, gpu_seconds=seconds))
        try:
            async for piece in pieces:
                yield piece
        finally:
            await pieces.aclose()


LOCAL_BACKENDS: dict[Task, type[LocalBackend]] = {
    "summarize": LocalSummarizer,
    "ner": LocalTokenClassifier,
    "caption": LocalCaptioner,
    "imagegen": LocalImageGenerator,
    "chat": LocalChat,
}
