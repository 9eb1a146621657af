"""Each task's model called straight, without Gradio or the task layer: the benchmark's baseline.

These repeat the transformers and diffusers calls of `common/backends/local.py`, with the arguments
of the backend's own methods, on the model the backend loaded. Each is one small function so that it
can call the backend's code instead, once the backend offers it as a function of the loaded model.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from PIL import Image
from transformers import TextIteratorStreamer

from common.backends.base import ImageRequest
from common.backends.local import CAPTION_MAX_TOKENS, ChatModel
from common.chat import Message
from common.images import EncodedImage


def summarize(loaded: tuple[Any, Any], text: str, *, min_length: int, max_length: int) -> str:
    tokenizer, model = loaded
    encoded = tokenizer(text, return_tensors="pt", truncation=True).to(model.device)
    with torch.inference_mode():
        output = model.generate(**encoded, min_length=min_length, max_length=max_length)
    return tokenizer.decode(output[0], skip_special_tokens=True).strip()


def classify_tokens(classifier: Any, text: str) -> list[dict[str, Any]]:
    return [{**entity, "score": float(entity["score"])} for entity in classifier(text)]


def caption(loaded: tuple[Any, Any], image: EncodedImage) -> str:
    processor, model = loaded
    encoded = processor(images=image.decode(), return_tensors="pt").to(model.device, model.dtype)
    with torch.inference_mode():
        output = model.generate(**encoded, max_new_tokens=CAPTION_MAX_TOKENS)
    return processor.decode(output[0], skip_special_tokens=True).strip()


def generate(pipeline: Any, request: ImageRequest) -> Image.Image:
    generator = torch.Generator(device="cpu").manual_seed(request.seed)
    with torch.inference_mode():
        result = pipeline(request.prompt, **request.generation_arguments(), generator=generator)
    return result.images[0].convert("RGB")


def stream_reply(loaded: ChatModel, messages: list[Message], *, temperature: float, max_tokens: int) -> str:
    """The whole reply, streamed token by token from a generating thread as the backend streams it."""
    prompt = chat_prompt(loaded, messages).to(loaded.model.device)
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    arguments = {"max_new_tokens": max_tokens, "do_sample": True, "temperature": temperature}
    generation = threading.Thread(
        target=loaded.model.generate, kwargs={**prompt, **arguments, "streamer": streamer}
    )
    generation.start()
    reply = "".join(streamer)
    generation.join()
    return reply


def chat_prompt(loaded: ChatModel, messages: list[Message]) -> Any:
    """The messages through the model's chat template, as the backend renders them (the system
    message folded into the first question where the template has no system role)."""
    return loaded.tokenizer.apply_chat_template(
        loaded.prompt_messages(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
