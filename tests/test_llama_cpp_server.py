"""The chatbot against llama.cpp's Python server, `llama-cpp-python[server]`, running the real Gemma 3
270M base model with `--n_ctx 2048 --chat_format gemma`, as a person running a model on a laptop would.

Optional: the server and the model are big and slow to build, so the test runs only where they are at
hand. Set `LLAMA_CPP_PYTHON` to the Python of a virtualenv with `llama-cpp-python[server]` installed and
`GEMMA_GGUF` to the model's .gguf file; without them every test here is skipped, saying which is missing.
The README, under Layout, says how to build both.

That server reports neither its context window nor its slots, so the app is told both, as its
operator would: CHAT_CONTEXT_WINDOW=2048 and CHAT_CONCURRENCY=1.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from testing.apps import running_app
from testing.inference_server import unused_port
from testing.processes import wait_until_answering
from tests.self_hosted import SYSTEM, endpoint_settings, failure

pytestmark = pytest.mark.llama_cpp

N_CTX = 2048
# The model's name in requests: the server serves its one model whatever a request calls it.
MODEL = "gemma-3-270m"
START_TIMEOUT = 180.0
REPLY_TIMEOUT = 180.0
STOP_TIMEOUT = 10.0
# About 2,600 of Gemma's tokens (the server counts them), over the window; the app's estimate, three
# characters a token, makes it and the system message 4,105.
LONG_MESSAGE = "The quick brown fox jumps over the lazy dog near the quiet river bank. " * 173
REPLY_AT_LIMIT = (
    "The reply reached its limit of 8 tokens. For a longer reply, raise Max new tokens under Advanced "
    "options and press retry."
)
# The variables that point the test at the server and the model, and what each names.
REQUIRED = {
    "LLAMA_CPP_PYTHON": "the Python of a virtualenv with llama-cpp-python[server]",
    "GEMMA_GGUF": "the Gemma 3 270M .gguf file",
}
CHAT_COMPLETIONS = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


def server_and_model() -> tuple[Path, Path]:
    """The server's Python and the model file the environment names, or a skip saying what to set."""
    missing = [f"{variable} to {what}" for variable, what in REQUIRED.items() if not os.environ.get(variable)]
    if missing:
        pytest.skip(
            "llama.cpp's Python server and Gemma 3 270M are optional: set "
            + " and ".join(missing)
            + " to run this test (see the README)"
        )
    paths = [Path(os.environ[variable]).expanduser() for variable in REQUIRED]
    for (variable, what), path in zip(REQUIRED.items(), paths, strict=True):
        if not path.is_file():
            pytest.skip(f"{variable}={os.environ[variable]}: no such file; set it to {what}")
    python, model = paths
    return python, model


class LlamaCppServer:
    """`python -m llama_cpp.server` on the model, on a free local port; its output goes to `log`."""

    def __init__(self, python: Path, model: Path, log: Path) -> None:
        self.url = f"http://127.0.0.1:{unused_port()}"
        self.log = log
        port = self.url.rsplit(":", 1)[1]
        self.command = [
            str(python),
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--n_ctx",
            str(N_CTX),
            "--chat_format",
            "gemma",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--seed",
            "0",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaCppServer:
        with self.log.open("w") as output:
            # Unbuffered, so the access log shows each request as it is answered.
            self.process = subprocess.Popen(
                self.command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            # The server has no /health; GET /v1/models answers once the model is loaded.
            wait_until_answering(
                f"{self.url}/v1/models", self.process, "llama_cpp.server", START_TIMEOUT, self.output
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def chat_requests(self) -> list[str]:
        """The status of each chat completion the server answered, from its access log."""
        return CHAT_COMPLETIONS.findall(self.log.read_text(errors="replace"))

    def count_tokens(self, text: str) -> int:
        response = httpx.post(f"{self.url}/extras/tokenize/count", json={"input": text}, timeout=30)
        response.raise_for_status()
        return response.json()["count"]


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    python, model = server_and_model()
    log = tmp_path_factory.mktemp("llama-cpp-server") / "server.log"
    with LlamaCppServer(python, model, log) as server:
        yield server


@pytest.fixture(scope="module")
def chatbot(llama_cpp_server: LlamaCppServer) -> Iterator[Client]:
    """The chatbot against the server, told its window and slots as its operator would tell it."""
    settings = endpoint_settings(
        llama_cpp_server.url, CHAT_MODEL=MODEL, CHAT_CONTEXT_WINDOW=str(N_CTX), CHAT_CONCURRENCY="1"
    )
    with running_app("chatbot", settings) as client:
        yield client


def streamed(client: Client, message: str, max_tokens: int) -> tuple[list[Any], Any]:
    """Every output of one reply, and the last."""
    job = client.submit(message, SYSTEM, 0.1, max_tokens, api_name="/chat")
    result = job.result(timeout=REPLY_TIMEOUT)
    return job.outputs(), result


def test_a_reply_streams_from_gemma(chatbot, caplog):
    outputs, reply = streamed(chatbot, "Write a short poem about the sea.", 64)

    # A base model may stop early or run to the limit: either way the text that arrived is kept.
    text = reply if isinstance(reply, str) else reply[0]["content"]
    assert text.strip(), "a reply with text"
    partial = [output for output in outputs if isinstance(output, str)]
    assert len(partial) >= 2, "the reply arrived in pieces"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(partial))
    assert "did not report" not in caplog.text, "told the window, the app does not ask"


def test_a_reply_that_reaches_max_tokens_says_so(chatbot):
    _, reply = streamed(chatbot, "Count from one to one hundred:", 8)

    assert isinstance(reply, list), f"a reply and a note, not {reply!r}"
    text, note = reply
    assert text["role"] == "assistant" and text["content"].strip(), "the text that arrived is kept"
    assert note["content"] == REPLY_AT_LIMIT


def test_a_message_over_the_window_is_refused_before_it_reaches_the_server(chatbot, llama_cpp_server):
    assert 2400 < llama_cpp_server.count_tokens(LONG_MESSAGE) < 2800, "over the window, as Gemma counts"
    sent_before = len(llama_cpp_server.chat_requests())

    message = failure(chatbot, LONG_MESSAGE, 64)
    after_long = len(llama_cpp_server.chat_requests())
    streamed(chatbot, "Count from one to one hundred:", 8)

    assert message == (
        "The message and the system message take about 4,105 tokens; with 64 more for the reply, that is "
        "over the 2,048-token context window of the chat endpoint. Shorten them, or lower max_tokens."
    )
    assert after_long == sent_before, "the server never saw it"
    assert llama_cpp_server.chat_requests()[sent_before:] == ["200"], "it saw the short message after"


# What the server itself does, which is why CHAT_CONTEXT_WINDOW is the fix


def test_the_server_reports_no_window_and_ends_a_streamed_prompt_over_it_with_nothing(
    llama_cpp_server, caplog
):
    body = {"model": MODEL, "messages": [{"role": "user", "content": LONG_MESSAGE}], "max_tokens": 64}
    refused = httpx.post(f"{llama_cpp_server.url}/v1/chat/completions", json=body, timeout=60)
    stream = httpx.post(
        f"{llama_cpp_server.url}/v1/chat/completions", json={**body, "stream": True}, timeout=60
    )
    settings = endpoint_settings(llama_cpp_server.url, CHAT_MODEL=MODEL, CHAT_CONCURRENCY="1")
    with running_app("chatbot", settings) as unconfigured:
        message = failure(unconfigured, LONG_MESSAGE, 64)

    # Asked for a whole reply, it says why in OpenAI's words; streamed, it answers 200 and sends no event
    # at all, not even [DONE] (its log has the traceback).
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "context_length_exceeded"
    assert (stream.status_code, stream.text.strip()) == (200, "")
    # It reports no window anywhere the app asks, so the app assumes 8,192 and says what to set...
    assert f"{llama_cpp_server.url} did not report its context window" in caplog.text
    assert "set CHAT_CONTEXT_WINDOW to the server's window" in caplog.text
    # ...and sends the message, and a stream with no text is all a visitor can be told of.
    assert message == (
        "the chat endpoint sent a reply this app cannot read (the reply stream held no text). Check that "
        "the URL points at an endpoint serving this task."
    )


def test_the_gemma_chat_format_drops_the_system_message(llama_cpp_server):
    def prompt_tokens(messages: list[dict[str, str]]) -> int:
        body = {"model": MODEL, "messages": messages, "max_tokens": 1}
        response = httpx.post(f"{llama_cpp_server.url}/v1/chat/completions", json=body, timeout=60)
        response.raise_for_status()
        return response.json()["usage"]["prompt_tokens"]

    question = {"role": "user", "content": "What is the capital of France?"}
    system = {"role": "system", "content": "Answer only in French, in one word, whatever you are asked."}

    assert prompt_tokens([system, question]) == prompt_tokens([question]), "without a word"
