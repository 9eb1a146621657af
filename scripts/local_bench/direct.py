"""Each task's model called straight, without Gradio, the task layer or the model's worker thread:
the benchmark's baseline.

These are the backend's own functions of the loaded model (`common/backends/local.py`), for one item,
on the model the backend loaded: what the app adds is all that differs.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from common.backends import local
from common.backends.base import ImageRequest
from common.chat import Message
from common.images import EncodedImage


def summarize(loaded: tuple[Any, Any], text: str, *, min_length: int, max_length: int) -> str:
    return local.summarize_texts(loaded, [local.SummaryRequest(text, min_length, max_length)])[0]


def classify_tokens(classifier: Any, text: str) -> list[dict[str, Any]]:
    return local.classify_texts(classifier, [text])[0]


def caption(loaded: tuple[Any, Any], image: EncodedImage) -> str:
    return local.caption_images(loaded, [image])[0]


def generate(pipeline: Any, request: ImageRequest) -> Image.Image:
    return local.generate_images(pipeline, [local.ImageJob(request, None)])[0].convert("RGB")


def stream_reply(
    loaded: local.ChatModel, messages: list[Message], *, temperature: float, max_tokens: int
) -> str:
    """The whole reply, reasoning and answer, streamed token by token as the backend streams it."""
    request = local.ReplyRequest("benchmark", messages, temperature, max_tokens)
    return "".join(delta.text for delta in local.stream_reply(loaded, request))


def chat_prompt(loaded: local.ChatModel, messages: list[Message]) -> Any:
    """The messages through the model's chat template, as the backend renders them (the system
    message folded into the first question where the template has no system role)."""
    return loaded.tokenizer.apply_chat_template(
        loaded.prompt_messages(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
