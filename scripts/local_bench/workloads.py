"""What each task runs: the call through its app, the same work on the model directly, and how the
report describes its inputs."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import torch
from PIL import Image

from common.backends import (
    chat_backend,
    image_to_text_backend,
    summarization_backend,
    text_to_image_backend,
    token_classification_backend,
)
from common.backends.base import ImageRequest, Notifier
from common.backends.local import CAPTION_MAX_TOKENS, ChatModel
from common.chat import Message
from common.settings import Settings, Task
from scripts.local_bench import direct
from scripts.local_bench.inputs import (
    ARTICLE,
    CHAT_MAX_TOKENS,
    CHAT_MESSAGE,
    CHAT_SYSTEM_MESSAGE,
    CHAT_TEMPERATURE,
    IMAGE_GUIDANCE,
    IMAGE_SIZE,
    IMAGE_STEPS,
    NEGATIVE_PROMPT,
    PICTURE,
    PROMPT,
    ROOT,
    SEED,
    SENTENCE,
    SUMMARY_MAX_LENGTH,
    SUMMARY_MIN_LENGTH,
    UPLOAD,
)
from testing.rest import GradioRest

IMAGE_REQUEST = ImageRequest(
    PROMPT, NEGATIVE_PROMPT, IMAGE_STEPS, IMAGE_GUIDANCE, width=IMAGE_SIZE, height=IMAGE_SIZE, seed=SEED
)
CHAT_MESSAGES: list[Message] = [
    {"role": "system", "content": CHAT_SYSTEM_MESSAGE},
    {"role": "user", "content": CHAT_MESSAGE},
]


def summarize_via_app(app: GradioRest) -> str:
    summary = app.call(
        "summarize", text=ARTICLE, min_length=SUMMARY_MIN_LENGTH, max_length=SUMMARY_MAX_LENGTH
    )
    return summary[0]


def describe_summarize(loaded: tuple[Any, Any]) -> str:
    tokens = len(loaded[0](ARTICLE, truncation=True)["input_ids"])
    return (
        f"`{ARTICLE[:24]}…` ({len(ARTICLE)} characters, {tokens} tokens), "
        f"min_length {SUMMARY_MIN_LENGTH}, max_length {SUMMARY_MAX_LENGTH}"
    )


def ner_via_app(app: GradioRest) -> Any:
    return app.call("ner", text=SENTENCE)[0]


def describe_ner(classifier: Any) -> str:
    tokens = len(classifier.tokenizer(SENTENCE)["input_ids"])
    return f'"{SENTENCE}" ({len(SENTENCE)} characters, {tokens} tokens)'


def caption_via_app(app: GradioRest) -> str:
    return app.call("caption", image=app.upload(PICTURE))[0]


def describe_caption(loaded: tuple[Any, Any]) -> str:
    size = loaded[0].image_processor.size
    width, height = UPLOAD.decode().size
    return (
        f"`{PICTURE.relative_to(ROOT)}` ({width}x{height} JPEG, "
        f"resized to {size['width']}x{size['height']}), up to {CAPTION_MAX_TOKENS} new tokens"
    )


def generate_via_app(app: GradioRest) -> Image.Image:
    image, _seed = app.call("generate", **asdict(IMAGE_REQUEST))
    with Image.open(io.BytesIO(app.download(image))) as png:
        return png.convert("RGB")


def describe_imagegen(pipeline: Any) -> str:
    checker = "with" if pipeline.safety_checker is not None else "without"
    return (
        f'"{PROMPT}", negative "{NEGATIVE_PROMPT}", {IMAGE_SIZE}x{IMAGE_SIZE}, {IMAGE_STEPS} steps '
        f"({type(pipeline.scheduler).__name__}), guidance {IMAGE_GUIDANCE:g}, seed {SEED}, "
        f"{checker} safety checker"
    )


def chat_directly(loaded: ChatModel) -> str:
    torch.manual_seed(SEED)  # as chat_via_app seeds the app's sampling
    return direct.stream_reply(
        loaded, CHAT_MESSAGES, temperature=CHAT_TEMPERATURE, max_tokens=CHAT_MAX_TOKENS
    )


def chat_via_app(app: GradioRest) -> str:
    torch.manual_seed(SEED)  # the app samples in this process: the same seed samples the same reply
    reply = app.call(
        "chat",
        message=CHAT_MESSAGE,
        system_message=CHAT_SYSTEM_MESSAGE,
        temperature=CHAT_TEMPERATURE,
        max_tokens=CHAT_MAX_TOKENS,
    )
    return reply[0]


def describe_chat(loaded: ChatModel) -> str:
    tokens = direct.chat_prompt(loaded, CHAT_MESSAGES)["input_ids"].shape[-1]
    return (
        f'"{CHAT_MESSAGE}" with the system message "{CHAT_SYSTEM_MESSAGE}" ({tokens} prompt tokens), '
        f"temperature {CHAT_TEMPERATURE:g}, max_tokens {CHAT_MAX_TOKENS}, streamed"
    )


def same_images(app: Image.Image, direct: Image.Image) -> bool:
    return app.tobytes() == direct.tobytes()


@dataclass(frozen=True)
class TaskBench:
    """How to run one task both ways, and whether both ways gave the same output (None: not comparable)."""

    app: str
    backend: Callable[[Settings, Notifier], Any]
    model_call: str  # the backend method that runs the model, timed inside the app
    via_app: Callable[[GradioRest], Any]
    directly: Callable[[Any], Any]
    describe: Callable[[Any], str]
    same_output: Callable[[Any, Any], bool] | None = None


BENCHES: dict[Task, TaskBench] = {
    "summarize": TaskBench(
        app="summarize",
        backend=summarization_backend,
        model_call="summarize",
        via_app=summarize_via_app,
        directly=partial(
            direct.summarize, text=ARTICLE, min_length=SUMMARY_MIN_LENGTH, max_length=SUMMARY_MAX_LENGTH
        ),
        describe=describe_summarize,
        same_output=str.__eq__,
    ),
    "ner": TaskBench(
        app="ner",
        backend=token_classification_backend,
        model_call="classify_tokens",
        via_app=ner_via_app,
        directly=partial(direct.classify_tokens, text=SENTENCE),
        describe=describe_ner,
        # The app merges the pipeline's entities into whole ones: the outputs differ in shape.
    ),
    "caption": TaskBench(
        app="caption",
        backend=image_to_text_backend,
        model_call="caption",
        via_app=caption_via_app,
        directly=partial(direct.caption, image=UPLOAD),
        describe=describe_caption,
        same_output=str.__eq__,
    ),
    "imagegen": TaskBench(
        app="imagegen",
        backend=text_to_image_backend,
        model_call="generate",
        via_app=generate_via_app,
        directly=partial(direct.generate, request=IMAGE_REQUEST),
        describe=describe_imagegen,
        same_output=same_images,
    ),
    "chat": TaskBench(
        app="chatbot",
        backend=chat_backend,
        model_call="stream_reply",
        via_app=chat_via_app,
        directly=chat_directly,
        describe=describe_chat,
        same_output=str.__eq__,
    ),
}
