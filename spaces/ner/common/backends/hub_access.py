"""Where a local model loads from, decided before loading: its directory, the Hub, or the Hub's cache.

Offline (a laptop on a plane, a firewalled server), transformers and diffusers retry every file for
tens of seconds and then blame the runtime or the model id. Asking the Hub once, with a short
timeout, says within seconds what is true: the model is not downloaded and the Hub cannot be
reached, and how to run anyway. A model downloaded before loads from the cache without asking.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx2
from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

from common.errors import LocalRuntimeError, phrase
from common.settings import ENDPOINT_VARIABLES, MODEL_VARIABLES, TaskSettings

logger = logging.getLogger("common")

# Seconds to wait for the Hub's answer; a reachable Hub answers in well under one.
HUB_TIMEOUT = 3.0
# How long an answer about the Hub holds before it is asked again.
HUB_ANSWER_MEMORY = 60.0
# Weights of a diffusers pipeline sit in its components' folders; the repository's top level may
# hold single-file checkpoints of several GB that `from_pretrained` never downloads.
PIPELINE_INDEX = "model_index.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")

Status = Literal["ready", "download", "unreachable"]


@dataclass(frozen=True)
class Availability:
    """Whether a model can run now: on disk (`ready`), to download on first use (`download`, with
    its size when the Hub says it), or neither (`unreachable`)."""

    status: Status
    download_bytes: int | None = None


class _HubAnswers:
    """The Hub's answers, remembered for a minute: whether it can be reached at all."""

    def __init__(self) -> None:
        self._reachable: tuple[float, bool] | None = None
        self._sizes: dict[str, int | None] = {}
        self._guard = threading.Lock()

    def reachable(self) -> bool:
        with self._guard:
            if self._reachable and time.monotonic() - self._reachable[0] < HUB_ANSWER_MEMORY:
                return self._reachable[1]
            answer = _ask_hub()
            self._reachable = (time.monotonic(), answer)
            return answer

    def download_size(self, model: str) -> int | None:
        """Bytes of weights `from_pretrained` downloads for `model`, asked once, or None."""
        if model not in self._sizes:
            self._sizes[model] = _ask_download_size(model)
        return self._sizes[model]


def _ask_hub() -> bool:
    try:
        httpx2.head(constants.ENDPOINT, timeout=HUB_TIMEOUT)
    except httpx2.TransportError as error:
        logger.warning("The Hugging Face Hub (%s) cannot be reached: %s", constants.ENDPOINT, error)
        return False
    return True


HUB = _HubAnswers()


def cached_snapshot(model: str) -> str | None:
    """The folder of a model downloaded before, from the Hub's cache, or None."""
    try:
        return snapshot_download(model, local_files_only=True)
    except (LocalEntryNotFoundError, ValueError):  # ValueError: not a hub id at all
        return None


def model_source(config: TaskSettings) -> str:
    """What `from_pretrained` should load for `config.model`: a local directory as it is, a model
    downloaded before from the cache when offline, else its hub id to download.

    Raises `LocalRuntimeError` at once when the model is neither on disk nor reachable.
    """
    model = config.model
    if Path(model).is_dir():
        return model
    if _names_a_path(model):
        raise LocalRuntimeError(model, phrase("detail_no_directory", variable=MODEL_VARIABLES[config.task]))
    if constants.HF_HUB_OFFLINE:
        if cached := cached_snapshot(model):
            return cached
        raise LocalRuntimeError(model, phrase("detail_offline_not_downloaded", **_fixes(config)))
    if HUB.reachable():
        return model
    if cached := cached_snapshot(model):
        logger.info("Loading %s from the Hub's cache: the Hub cannot be reached", model)
        return cached
    raise LocalRuntimeError(model, phrase("detail_hub_unreachable", hub=constants.ENDPOINT, **_fixes(config)))


def availability(config: TaskSettings) -> Availability:
    """Whether `config.model` is on disk, will download on first use, or cannot be had now."""
    model = config.model
    if Path(model).is_dir() or cached_snapshot(model):
        return Availability("ready")
    if constants.HF_HUB_OFFLINE or not HUB.reachable():
        return Availability("unreachable")
    return Availability("download", HUB.download_size(model))


def _ask_download_size(model: str) -> int | None:
    try:
        # A new client reads the Hub's address now (HF_ENDPOINT), as the loaders do.
        info = HfApi().model_info(model, files_metadata=True, timeout=HUB_TIMEOUT)
    except (HfHubHTTPError, httpx2.TransportError):
        return None
    files = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or []}
    return sum(files[name] for name in _weights_loaded(list(files)))


def _weights_loaded(names: list[str]) -> list[str]:
    """The weight files `from_pretrained` picks: safetensors over .bin in each folder, no variants
    (`.fp16.`, `.non_ema.`), and in a diffusers pipeline only its components' folders."""
    pipeline = PIPELINE_INDEX in names
    by_folder: dict[str, list[str]] = {}
    for name in names:
        folder, _, file = name.rpartition("/")
        if not file.endswith(WEIGHT_SUFFIXES) or file.count(".") > 1 or (pipeline and not folder):
            continue
        by_folder.setdefault(folder, []).append(name)
    chosen = []
    for files in by_folder.values():
        safetensors = [name for name in files if name.endswith(".safetensors")]
        chosen.extend(safetensors or files)
    return chosen


def _names_a_path(model: str) -> bool:
    """Whether `model` can only be a directory: a hub id is `name` or `owner/name`."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def _fixes(config: TaskSettings) -> dict[str, str]:
    return {"variable": MODEL_VARIABLES[config.task], "endpoint": ENDPOINT_VARIABLES[config.task][0]}
