"""What a self-hosted chat server says about itself: its context window and how many replies it runs
at once.

Each server says it in a place of its own: TGI at `GET /info`, vLLM at `GET /v1/models`, llama.cpp's
`llama-server` at `GET /props` (and in its `/v1/models` metadata), Ollama at `POST /api/show`. Asking
is best effort, with a short timeout: a server that says nothing, or cannot be reached, leaves the
caller to the operator's setting or a default, and the chat goes on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any

import httpx2

# Seconds to wait for a server's self-description: it answers at once or not at all.
DISCOVERY_TIMEOUT = 3.0
# The requests `context_window_reported` sends, for the operator's log.
ASKED_FOR_WINDOW = "GET /props, GET /info, GET /v1/models, POST /api/show"
# InferenceClient appends /v1/chat/completions to an endpoint URL, or the part of it the URL lacks.
CHAT_SUFFIXES = ("/v1/chat/completions", "/chat/completions", "/v1")
OLLAMA_NUM_CTX = re.compile(r"^num_ctx\s+(\d+)\s*$", re.MULTILINE)


def server_root(endpoint_url: str) -> str:
    """The server's own address: the chat endpoint URL without the chat completions path."""
    url = endpoint_url.rstrip("/")
    for suffix in CHAT_SUFFIXES:
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


async def context_window_reported(endpoint_url: str, model: str, token: str | None) -> int | None:
    """The context window the server at `endpoint_url` reports for `model`, or None.

    The four servers' places are asked at once: each other server answers 404 there, and a server
    that is down fails all four within the same timeout.
    """
    root = server_root(endpoint_url)
    async with httpx2.AsyncClient(timeout=DISCOVERY_TIMEOUT, headers=_authorization(token)) as client:
        props, info, models, show = await asyncio.gather(
            _json_of(client.get(f"{root}/props")),
            _json_of(client.get(f"{root}/info")),
            _json_of(client.get(f"{root}/v1/models")),
            _json_of(client.post(f"{root}/api/show", json={"model": model})),
        )
    return (
        window_from_props(props)
        or window_from_info(info)
        or window_from_models(models, model)
        or window_from_show(show)
    )


def slots_reported(endpoint_url: str, token: str | None) -> int | None:
    """How many replies the server runs at once, where it says so (llama.cpp's `total_slots`), or None.

    Synchronous: it is asked once, while the app is built, before any event loop serves it.
    """
    try:
        response = httpx2.get(
            f"{server_root(endpoint_url)}/props", timeout=DISCOVERY_TIMEOUT, headers=_authorization(token)
        )
    except httpx2.HTTPError:
        return None
    return _positive(_field(_body(response), "total_slots"))


def window_from_props(body: Any) -> int | None:
    """llama.cpp's `GET /props`: the window its slots run with (`n_ctx`, per slot in newer builds)."""
    return _positive(_field(_field(body, "default_generation_settings"), "n_ctx")) or _positive(
        _field(body, "n_ctx")
    )


def window_from_info(body: Any) -> int | None:
    """TGI's `GET /info`: the longest prompt it takes, else prompt and reply together."""
    return _positive(_field(body, "max_input_tokens")) or _positive(_field(body, "max_total_tokens"))


def window_from_models(body: Any, model: str) -> int | None:
    """vLLM's `max_model_len`, or llama.cpp's metadata (`n_ctx`, else `n_ctx_train`), for `model`.

    llama.cpp names its one model after the file it loaded, whatever the request calls it, so a list
    of one model is taken to be the model served.
    """
    data = _field(body, "data")
    entries = [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []
    entry = next((entry for entry in entries if entry.get("id") == model), None)
    if entry is None and len(entries) == 1:
        entry = entries[0]
    meta = _field(entry, "meta")
    return (
        _positive(_field(entry, "max_model_len"))
        or _positive(_field(meta, "n_ctx"))
        or _positive(_field(meta, "n_ctx_train"))
    )


def window_from_show(body: Any) -> int | None:
    """Ollama's `POST /api/show`: the `num_ctx` the model runs with where its parameters set one,
    else the architecture's `context_length` (`model_info["llama.context_length"]`)."""
    parameters = _field(body, "parameters")
    num_ctx = OLLAMA_NUM_CTX.search(parameters) if isinstance(parameters, str) else None
    if num_ctx:
        return _positive(int(num_ctx.group(1)))
    info = _field(body, "model_info")
    architecture = _field(info, "general.architecture")
    if not isinstance(architecture, str):
        return None
    return _positive(_field(info, f"{architecture}.context_length"))


async def _json_of(request: Awaitable[httpx2.Response]) -> Any:
    """The JSON a successful request answers with, or None however it fails."""
    try:
        return _body(await request)
    except httpx2.HTTPError:
        return None


def _body(response: httpx2.Response) -> Any:
    if not response.is_success:
        return None
    try:
        return response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None


def _authorization(token: str | None) -> dict[str, str]:
    """The header inference requests carry: an Inference Endpoint wants it for every path."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
