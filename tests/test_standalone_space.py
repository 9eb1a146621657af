"""A space folder runs on its own, as it will on Spaces: copied alone out of the repository.

The copy is launched with `python app.py` and no PYTHONPATH, so the only `common` it can import is
its vendored copy; a space that reached for the root `common/` would fail here, not after deploying.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from common.tasks.chat import DEFAULT_SYSTEM_MESSAGE
from common.tasks.summarize import MAX_LENGTH
from testing.inference_server import InferenceTestServer, chat_reply_for, summary_for, unused_port
from tests.conftest import TEST_TOKEN
from tests.harness import ROOT

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()


@dataclass(frozen=True)
class Call:
    """One endpoint call and the answer the test inference server makes it return."""

    space: str
    api_name: str
    arguments: tuple[Any, ...]
    answer: str


CALLS = [
    Call("summarize", "/summarize", (EIFFEL,), summary_for(EIFFEL, MAX_LENGTH.default)),
    Call(
        "chatbot",
        "/chat",
        ("hello there", DEFAULT_SYSTEM_MESSAGE, 0.7, 64),
        chat_reply_for([{"role": "user", "content": "hello there"}]),
    ),
]


def space_environment(server: InferenceTestServer, port: int) -> dict[str, str]:
    environment = {
        **os.environ,
        **server.env(),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_TOKEN": TEST_TOKEN,
    }
    environment.pop("PYTHONPATH", None)
    return environment


@contextmanager
def serving(folder: Path, environment: dict[str, str], log: Path) -> Iterator[str]:
    """`python app.py` in `folder`, until its page answers; always stopped, killed if it hangs."""
    url = f"http://127.0.0.1:{environment['GRADIO_SERVER_PORT']}/"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=folder, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the app did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')}")


def imports_seen_from(folder: Path, environment: dict[str, str]) -> dict[str, Any]:
    """Where `common` comes from and what is on sys.path, for a script run in `folder` as app.py is."""
    probe = "import common, json, sys; print(json.dumps({'common': common.__file__, 'path': sys.path}))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.space)
def test_a_space_copied_alone_serves_its_endpoint(call, server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("standalone") / call.space
    shutil.copytree(ROOT / "spaces" / call.space, folder, ignore=shutil.ignore_patterns("__pycache__"))
    environment = space_environment(server, unused_port())

    seen = imports_seen_from(folder, environment)
    assert Path(seen["common"]).resolve() == (folder / "common" / "__init__.py").resolve()
    # "" on sys.path is the working directory: the folder, as the script's directory is for app.py.
    directories = {Path(entry or folder).resolve() for entry in seen["path"]}
    assert {path for path in directories if (path / "common").is_dir()} == {folder.resolve()}

    with serving(folder, environment, folder.parent / "app.log") as url:
        client = Client(url, verbose=False)
        assert client.predict(*call.arguments, api_name=call.api_name) == call.answer

    assert server.requests, "the app did not call the test inference server"
    assert {request.headers.get("authorization") for request in server.requests} == {f"Bearer {TEST_TOKEN}"}
