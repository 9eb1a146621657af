"""The instruct models a chat can switch between, and the context window each is served with.

Switching only makes sense where the app reaches many models: a hub id through Hugging Face's
`auto` routing. A local model, an endpoint URL or a pinned provider serves one known model, so
only the configured one is offered there.
"""

from __future__ import annotations

from dataclasses import replace

from common.settings import Settings

# Open instruct models that several inference providers serve, so `auto` routing finds a live one.
# Each window is the smallest any provider serves the model with: routing may pick any of them.
PROVIDER_CHAT_MODELS: dict[str, int] = {
    # Apache 2.0 and not gated; strong in English and Chinese, and writes code.
    "Qwen/Qwen2.5-7B-Instruct": 32_768,
    # The most widely served 8B model; gated: the token's account must accept the Llama 3.1 licence.
    "meta-llama/Llama-3.1-8B-Instruct": 16_384,
    # Apache 2.0; reasons before it answers, and the reasoning counts against the reply's tokens.
    "openai/gpt-oss-20b": 131_072,
    # Apache 2.0 and not gated; sees pictures. 32,768 is the window its model card documents (its
    # config allows 128,000 positions, past 32,768 only with YaRN scaling) and the one hosts list it
    # with; the providers' live listings were not checked against it.
    "Qwen/Qwen2.5-VL-7B-Instruct": 32_768,
}
# The offered models that see pictures; the others read text only.
PICTURE_MODELS = frozenset({"Qwen/Qwen2.5-VL-7B-Instruct"})


def offered_models(settings: Settings) -> tuple[str, ...]:
    """The models a visitor may pick, the configured `CHAT_MODEL` first (it is the default)."""
    chat = settings.chat
    if settings.backend_for("chat") == "local" or chat.endpoint_url or chat.provider != "auto":
        return (chat.model,)
    return (chat.model, *(model for model in PROVIDER_CHAT_MODELS if model != chat.model))


def sees_pictures(settings: Settings) -> bool | None:
    """Whether the configured chat model sees pictures: known for the offered provider models and
    for an in-process model (the local backend reads text only); None where only the server knows
    (an endpoint URL, or a provider model this app does not list), which then says so itself."""
    chat = settings.chat
    if settings.backend_for("chat") == "local":
        return False
    if chat.endpoint_url or chat.model not in PROVIDER_CHAT_MODELS:
        return None
    return chat.model in PICTURE_MODELS


def with_chat_model(settings: Settings, model: str) -> Settings:
    """The same configuration chatting with `model`: each model gets a backend of its own, which
    names that model in its messages."""
    return replace(settings, chat=replace(settings.chat, model=model))
