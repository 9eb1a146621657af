"""Servers the tests start as subprocesses (`transformers serve`, llama.cpp's server): waiting for them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def wait_until_answering(
    url: str,
    process: subprocess.Popen[bytes],
    name: str,
    timeout: float,
    output: Callable[[], str],
    interval: float = 0.5,
) -> None:
    """Return once `GET url` answers 200, within `timeout` seconds; fail quoting `output()` if the
    process exits first or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{output()}")
        try:
            if httpx.get(url, timeout=interval * 4).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(interval)
    pytest.fail(f"{name} did not answer within {timeout:g} s:\n{output()}")
