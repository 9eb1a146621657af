"""Each task's model called straight, without Gradio or the task layer: the benchmark's baseline.

These repeat the transformers and diffusers calls of `common/backends/local.py`, with the same
arguments, on the model the backend loaded. Each is one small function so that it can call the
backend's own function instead, once the backend offers one per task.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from PIL import Image
from transformers import TextIteratorStreamer

from common.backends.local import CAPTION_MAX_TOKENS, ChatModel
from common.chat import Message
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
    PROMPT,
    SEED,
    SENTENCE,
    SUMMARY_MAX_LENGTH,
    SUMMARY_MIN_LENGTH,
    UPLOAD,
)


def summarize_directly(loaded: tuple[Any, Any]) -> str:
    tokenizer, model = loaded
    inputs = tokenizer(ARTICLE, return_tensors="pt", truncation=True).to(model.device)
    with torch.inference_mode():
        output = model.generate(**inputs, min_length=SUMMARY_MIN_LENGTH, max_length=SUMMARY_MAX_LENGTH)
    return tokenizer.decode(output[0], skip_special_tokens=True).strip()


def ner_directly(classifier: Any) -> list[dict[str, Any]]:
    return [{**entity, "score": float(entity["score"])} for entity in classifier(SENTENCE)]


def caption_directly(loaded: tuple[Any, Any]) -> str:
    processor, model = loaded
    picture = UPLOAD.decode()
    inputs = processor(images=picture, return_tensors="pt").to(model.device, model.dtype)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=CAPTION_MAX_TOKENS)
    return processor.decode(output[0], skip_special_tokens=True).strip()


def generate_directly(pipeline: Any) -> Image.Image:
    generator = torch.Generator(device="cpu").manual_seed(SEED)
    with torch.inference_mode():
        result = pipeline(
            PROMPT,
            negative_prompt=NEGATIVE_PROMPT,
            num_inference_steps=IMAGE_STEPS,
            guidance_scale=IMAGE_GUIDANCE,
            width=IMAGE_SIZE,
            height=IMAGE_SIZE,
            generator=generator,
        )
    return result.images[0].convert("RGB")


def chat_directly(loaded: ChatModel) -> str:
    inputs = chat_prompt(loaded).to(loaded.model.device)
    streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    arguments = {"max_new_tokens": CHAT_MAX_TOKENS, "do_sample": True, "temperature": CHAT_TEMPERATURE}
    torch.manual_seed(SEED)
    generation = threading.Thread(
        target=loaded.model.generate, kwargs={**inputs, **arguments, "streamer": streamer}
    )
    generation.start()
    reply = "".join(streamer)
    generation.join()
    return reply


def chat_prompt(loaded: ChatModel) -> Any:
    """The benchmark's system message and question through the model's chat template, as the backend
    renders them (folding the system message into the question where the template has no system role)."""
    messages: list[Message] = [
        {"role": "system", "content": CHAT_SYSTEM_MESSAGE},
        {"role": "user", "content": CHAT_MESSAGE},
    ]
    return loaded.tokenizer.apply_chat_template(
        loaded.prompt_messages(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
