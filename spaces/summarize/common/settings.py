"""Configuration read once from the environment and an optional `.env` file.

Every variable of the configuration table in the README lives here, so that no other module reads
`os.environ`. The process environment wins over `.env`, as python-dotenv does by default.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from dotenv import dotenv_values, find_dotenv

Task = Literal["summarize", "ner", "caption", "imagegen", "chat"]
BackendChoice = Literal["auto", "remote", "local"]
TASKS: tuple[Task, ...] = get_args(Task)

DEFAULT_MODELS: dict[Task, str] = {
    "summarize": "sshleifer/distilbart-cnn-12-6",
    "ner": "dslim/bert-base-NER",
    "caption": "Salesforce/blip-image-captioning-base",
    "imagegen": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "chat": "Qwen/Qwen2.5-7B-Instruct",
}
# In-process defaults where the provider-served one is too big for a laptop or a CPU Space: a 7B
# model needs about 30 GB in float32. Same family, same chat template, English and Chinese.
DEFAULT_LOCAL_MODELS: dict[Task, str] = {"chat": "Qwen/Qwen2.5-1.5B-Instruct"}
MODEL_VARIABLES: dict[Task, str] = {
    "summarize": "SUMMARY_MODEL",
    "ner": "NER_MODEL",
    "caption": "CAPTION_MODEL",
    "imagegen": "IMAGEGEN_MODEL",
    "chat": "CHAT_MODEL",
}
# The first name of each tuple is the documented one; later names are accepted for compatibility.
ENDPOINT_VARIABLES: dict[Task, tuple[str, ...]] = {
    "summarize": ("HF_API_SUMMARY_BASE",),
    "ner": ("HF_API_NER_BASE",),
    "caption": ("HF_API_ITT_BASE",),
    "imagegen": ("HF_API_TTI_BASE",),
    "chat": ("HF_API_CHAT_BASE", "HF_API_FALCOM_BASE"),
}
# Summarization, token classification and image-to-text are served by hf-inference only;
# "auto" would route them to a provider that does not offer the task.
DEFAULT_PROVIDERS: dict[Task, str] = {
    "summarize": "hf-inference",
    "ner": "hf-inference",
    "caption": "hf-inference",
    "imagegen": "auto",
    "chat": "auto",
}
# Seconds per call: image generation and long chat replies legitimately take longer.
DEFAULT_TIMEOUTS: dict[Task, float] = {
    "summarize": 60.0,
    "ner": 30.0,
    "caption": 60.0,
    "imagegen": 180.0,
    "chat": 120.0,
}


class SettingsError(ValueError):
    """A configuration value cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class TaskSettings:
    """Where and how one task runs."""

    task: Task
    model: str
    endpoint_url: str | None
    provider: str
    timeout: float
    # Chat only, and only for an endpoint URL: what the operator says of the server, which wins over
    # what the server reports of itself (CHAT_CONTEXT_WINDOW, CHAT_CONCURRENCY).
    context_window: int | None = None
    concurrency: int | None = None

    @property
    def target(self) -> str:
        """What the remote backend calls: the endpoint URL when one is set, else the hub model id."""
        return self.endpoint_url or self.model


@dataclass(frozen=True)
class ToolServer:
    """An MCP server whose tools the chatbot may call, as HuggingChat's `MCP_SERVERS` lists one.

    `name` prefixes its tools' names for the model (`ner_entities`), so two servers may each have a
    tool of the same name. `headers` go with every request to it (an API key, say), never to a page.
    """

    name: str
    url: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Settings:
    """The whole configuration; frozen and hashable so backends can be cached per configuration."""

    token: str | None = field(repr=False)
    backend: BackendChoice
    summarize: TaskSettings
    ner: TaskSettings
    caption: TaskSettings
    imagegen: TaskSettings
    chat: TaskSettings
    # MCP_SERVERS; None when unset, which serve-all reads as "the sibling apps" and an app alone as none.
    mcp_servers: tuple[ToolServer, ...] | None = None

    def for_task(self, task: Task) -> TaskSettings:
        return getattr(self, task)

    def backend_for(self, task: Task) -> Literal["remote", "local"]:
        return resolve_backend(self.backend, self.for_task(task).endpoint_url, self.token)


def resolve_backend(
    choice: BackendChoice, endpoint_url: str | None, token: str | None
) -> Literal["remote", "local"]:
    """`auto` goes remote when the task has an endpoint URL or a token is set, else runs locally."""
    if choice != "auto":
        return choice
    return "remote" if endpoint_url or token else "local"


Lookup = Callable[..., str | None]
"""The first non-blank value among the variables named, or None."""


def configuration(environ: Mapping[str, str] | None = None, dotenv_path: str | None = None) -> Lookup:
    """Variables from `environ` (default `os.environ`) over the nearest `.env` file."""
    dotenv_file = dotenv_path if dotenv_path is not None else find_dotenv(usecwd=True)
    from_file = {key: value for key, value in dotenv_values(dotenv_file).items() if value is not None}
    values: dict[str, str] = {**from_file, **(os.environ if environ is None else environ)}

    def get(*names: str) -> str | None:
        for name in names:
            value = values.get(name, "").strip()
            if value:
                return value
        return None

    return get


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: str | None = None) -> Settings:
    """Read the configuration: `environ` (default `os.environ`) over the nearest `.env` file.

    Example:
        >>> settings = load_settings({"HF_API_SUMMARY_BASE": "http://127.0.0.1:8080"})
        >>> settings.backend_for("summarize"), settings.summarize.target
        ('remote', 'http://127.0.0.1:8080')
    """
    get = configuration(environ, dotenv_path)

    backend = (get("INFERENCE_BACKEND") or "auto").lower()
    if backend not in get_args(BackendChoice):
        raise SettingsError(f"INFERENCE_BACKEND must be auto, remote or local, not {backend!r}.")
    timeout_override = _parse_timeout(get("INFERENCE_TIMEOUT"))
    provider_override = get("HF_PROVIDER")

    token = get("HF_TOKEN", "HF_API_KEY")
    chat_limits = {
        "context_window": _parse_count("CHAT_CONTEXT_WINDOW", get("CHAT_CONTEXT_WINDOW"), "tokens"),
        "concurrency": _parse_count("CHAT_CONCURRENCY", get("CHAT_CONCURRENCY"), "replies at once"),
    }
    tasks = {}
    for task in TASKS:
        endpoint_url = _parse_url(ENDPOINT_VARIABLES[task], get(*ENDPOINT_VARIABLES[task]))
        runs_locally = resolve_backend(backend, endpoint_url, token) == "local"  # type: ignore[arg-type]
        default_model = (
            DEFAULT_LOCAL_MODELS.get(task, DEFAULT_MODELS[task]) if runs_locally else DEFAULT_MODELS[task]
        )
        tasks[task] = TaskSettings(
            task=task,
            model=get(MODEL_VARIABLES[task]) or default_model,
            endpoint_url=endpoint_url,
            provider=provider_override or DEFAULT_PROVIDERS[task],
            timeout=timeout_override or DEFAULT_TIMEOUTS[task],
            **(chat_limits if task == "chat" else {}),
        )
    mcp_servers = _parse_tool_servers(get("MCP_SERVERS"))
    return Settings(token=token, backend=backend, **tasks, mcp_servers=mcp_servers)  # type: ignore[arg-type]


def _parse_timeout(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise SettingsError(f"INFERENCE_TIMEOUT must be a number of seconds, not {raw!r}.") from None
    if not 0 < seconds <= 3600:
        raise SettingsError(f"INFERENCE_TIMEOUT must be between 0 and 3600 seconds, not {raw}.")
    return seconds


def _parse_count(name: str, raw: str | None, unit: str) -> int | None:
    """A positive whole number of `unit`, or None when the variable is not set."""
    if raw is None:
        return None
    try:
        count = int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a whole number of {unit}, not {raw!r}.") from error
    if count < 1:
        raise SettingsError(f"{name} must be at least 1, not {raw}.")
    return count


def _parse_url(names: tuple[str, ...], raw: str | None) -> str | None:
    if raw is None:
        return None
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{names[0]} must be an http(s) URL, not {raw!r}.")
    return raw


# Tool names for the model join the server's name and the tool's; OpenAI allows [A-Za-z0-9_-]{1,64}.
SERVER_NAME = re.compile(r"[A-Za-z0-9-]{1,32}")
MCP_SERVERS_FORM = '[{"name": "search", "url": "https://example.com/mcp", "headers": {"X-Key": "..."}}]'


def _parse_tool_servers(raw: str | None) -> tuple[ToolServer, ...] | None:
    """MCP_SERVERS as HuggingChat reads it: a JSON list of `{"name", "url", "headers"?}`."""
    if raw is None:
        return None
    try:
        entries = json.loads(raw)
    except ValueError as error:
        raise SettingsError(f"MCP_SERVERS must be JSON, such as {MCP_SERVERS_FORM}: {error}.") from error
    if not isinstance(entries, list):
        raise SettingsError(f"MCP_SERVERS must be a JSON list, such as {MCP_SERVERS_FORM}.")
    servers = tuple(_tool_server(position, entry) for position, entry in enumerate(entries, start=1))
    names = [server.name for server in servers]
    if len(set(names)) < len(names):
        raise SettingsError(f"MCP_SERVERS names each server once; {names} repeats a name.")
    return servers


def _tool_server(position: int, entry: object) -> ToolServer:
    where = f"MCP_SERVERS entry {position}"
    if not isinstance(entry, dict):
        raise SettingsError(f"{where} must be an object, such as {MCP_SERVERS_FORM}.")
    name, url, headers = entry.get("name"), entry.get("url"), entry.get("headers", {})
    if not isinstance(name, str) or not SERVER_NAME.fullmatch(name):
        raise SettingsError(f"{where} needs a name of 1-32 letters, digits or dashes, not {name!r}.")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise SettingsError(f"{where} ({name}) needs an http(s) url, not {url!r}.")
    if not isinstance(headers, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in headers.items()
    ):
        raise SettingsError(f"{where} ({name}) headers must be an object of strings.")
    return ToolServer(name=name, url=url, headers=tuple(headers.items()))
