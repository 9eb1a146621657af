"""Model calls on ZeroGPU, the free GPUs of Hugging Face Spaces, through the `spaces` package.

On ZeroGPU a GPU is attached only while a function decorated with `@spaces.GPU` runs, and it runs
in a separate process forked from the app: its arguments and results are pickled, and the models
it uses must be loaded before that process starts (`common.backends.local.preload`). So the two
decorated functions below are module-level, take a model's key and a module-level work function
(both pickled by name), and find the model in `_models`, which the forked process inherits.

Everywhere else (no `spaces` package, or not a ZeroGPU Space) `spaces.GPU` returns the function
unchanged and nothing here runs: model calls stay in the app's process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

try:  # on a ZeroGPU Space, before anything imports torch: `spaces` patches it
    from spaces.config import Config

    import spaces
except ImportError:  # only the local requirements and the Spaces' own images have it
    spaces = None

_models: dict[tuple[str, ...], Any] = {}


def enabled() -> bool:
    """Whether this process runs on a ZeroGPU Space (the `spaces` package's own test)."""
    return spaces is not None and Config.zero_gpu


def register(key: tuple[str, ...], model: Any) -> None:
    """Make a loaded model reachable from the GPU process by its key."""
    _models[key] = model


def _requested_seconds(key: tuple[str, ...], work: Callable[..., Any], payload: Any, seconds: float) -> float:
    """The GPU time a call asks ZeroGPU for: what its task estimated for its items."""
    return seconds


def _gpu(function: Callable[..., Any]) -> Callable[..., Any]:
    return spaces.GPU(duration=_requested_seconds)(function) if spaces is not None else function


@_gpu
def run(
    key: tuple[str, ...], work: Callable[[Any, list[Any]], list[Any]], items: list[Any], seconds: float
) -> list[Any]:
    """`work(model, items)` with a GPU attached for at most `seconds`."""
    return work(_models[key], items)


@_gpu
def stream(
    key: tuple[str, ...], work: Callable[[Any, Any], Iterator[Any]], item: Any, seconds: float
) -> Iterator[Any]:
    """The pieces of `work(model, item)` with a GPU attached for at most `seconds`."""
    yield from work(_models[key], item)
