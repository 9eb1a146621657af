"""The chatbot against self-hosted chat servers: the context window and the slots each kind of server
reports, the operator's CHAT_CONTEXT_WINDOW and CHAT_CONCURRENCY over them, and a real
OpenAI-compatible server, `transformers serve`, serving the tiny chat model.

The test inference server plays each kind of server (`ServerKind`); every app here is built against
a server of its own, since an app asks for the window once and keeps it.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from gradio_client import Client

from common.backends.endpoint_info import server_root, window_from_props, window_from_show
from testing.apps import running_app
from testing.chatbot_page import ChatbotPage
from testing.inference_server import InferenceTestServer, ServerKind, unused_port
from testing.processes import wait_until_answering
from tests.self_hosted import SYSTEM, endpoint_settings, failure

if TYPE_CHECKING:
    from testing.tiny_models import TinyModels

# About 2,000 tokens by the remote estimate: with 512 for the reply, over a 2,048-token window and
# well within the 8,192 the app assumes of a server that says nothing.
LONG_MESSAGE = "y" * 6000
REPLY_ROOM = 512
# The app asks these once, at once, the first time it needs the window.
WINDOW_QUESTIONS = {"GET /props": 1, "GET /info": 1, "GET /v1/models": 1, "POST /api/show": 1}
SERVE_START_TIMEOUT = 120.0


def refusal(window: int) -> str:
    """What the app says of the long message against a window of `window` tokens."""
    return (
        "The message and the system message take about 2,011 tokens; with 512 more for the reply, that "
        f"is over the {window:,}-token context window of the chat endpoint. Shorten them, or lower "
        "max_tokens."
    )


@contextmanager
def chatbot_against(
    server_kind: ServerKind | None, **extra: str
) -> Iterator[tuple[Client, InferenceTestServer]]:
    """The chatbot built against a test server of its own that describes itself as `server_kind`."""
    with (
        InferenceTestServer(server_kind=server_kind, context_window=2048, slots=1) as server,
        running_app("chatbot", endpoint_settings(server.endpoint("chat"), **extra)) as client,
    ):
        yield client, server


# The context window


@pytest.mark.parametrize("kind", ["tgi", "vllm", "llama.cpp", "llama.cpp-models", "ollama"])
def test_the_window_a_server_reports_is_the_one_the_app_keeps_to(kind):
    with chatbot_against(kind) as (chatbot, server):
        reply = chatbot.predict("hello", SYSTEM, 0.7, 64, api_name="/chat")
        message = failure(chatbot, LONG_MESSAGE, REPLY_ROOM)

    assert reply == "You said: hello (turn 1)"
    assert message == refusal(2048)
    assert len(server.requests_for("chat")) == 1, "the long message never reached the server"
    asked = Counter(server.info_requests)
    asked["GET /props"] -= 1  # the slots, asked once while the app was built
    assert asked == WINDOW_QUESTIONS, "asked once, for both messages"


def test_chat_context_window_wins_over_what_the_server_reports_and_spares_the_questions():
    with chatbot_against("llama.cpp", CHAT_CONTEXT_WINDOW="1024") as (chatbot, server):
        message = failure(chatbot, LONG_MESSAGE, REPLY_ROOM)

    assert message == refusal(1024)
    assert server.info_requests == ["GET /props"], "only the slots, while the app was built"


def test_a_server_that_reports_no_window_is_not_a_failed_chat_and_the_log_says_what_to_set(caplog):
    with chatbot_against(None) as (chatbot, server):
        long_reply = chatbot.predict(LONG_MESSAGE, SYSTEM, 0.7, REPLY_ROOM, api_name="/chat")
        chatbot.predict("hello", SYSTEM, 0.7, 64, api_name="/chat")
        endpoint = server.endpoint("chat")

    assert long_reply == f"You said: {LONG_MESSAGE} (turn 1)", "sent whole, within the assumed 8,192"
    assert caplog.text.count("did not report its context window") == 1, "asked once a minute at most"
    assert (
        f"{endpoint} did not report its context window (GET /props, GET /info, GET /v1/models, POST "
        "/api/show): conversations are cut to 8192 tokens; set CHAT_CONTEXT_WINDOW to the server's window"
    ) in caplog.text


def test_a_prompt_the_server_refuses_as_over_its_window_is_told_the_window_it_reported():
    # llama.cpp's older words name no figure; the app knows the window from the server's /props.
    with chatbot_against("llama.cpp") as (chatbot, server):
        server.inject("stream_over_window", "chat")
        message = failure(chatbot, "hello", 64)

    assert message == (
        "the chat endpoint says the conversation is longer than the model's 2,048-token context window "
        "(the request exceeds the available context size, try increasing it). Shorten it or start a new "
        "conversation."
    )


def test_where_a_server_puts_its_window_is_read_as_each_server_writes_it():
    assert server_root("http://host:8080/v1/chat/completions") == "http://host:8080"
    assert server_root("http://host:8080/v1/") == "http://host:8080"
    assert server_root("https://host/openai/chat/completions") == "https://host/openai"
    assert server_root("http://host:11434") == "http://host:11434"
    # Older llama.cpp builds put n_ctx at the top of /props.
    assert window_from_props({"n_ctx": 4096, "total_slots": 2}) == 4096
    assert window_from_props({"default_generation_settings": {"n_ctx": True}}) is None
    # An Ollama model whose Modelfile sets num_ctx runs with it, whatever its architecture allows.
    show = {
        "parameters": 'num_ctx                        8192\nstop "<|eot_id|>"',
        "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
    }
    assert window_from_show(show) == 8192
    assert window_from_show({**show, "parameters": 'stop "<|eot_id|>"'}) == 131072
    assert window_from_show("<html>Not Found</html>") is None


# How many replies run at once


def peak_of_replies(chatbot: Client, server: InferenceTestServer, replies: int) -> tuple[list[Any], int]:
    """The replies to `replies` messages sent at once, and the most the server wrote at a time."""
    server.token_delay = 0.1
    jobs = [chatbot.submit(f"message {n}", SYSTEM, 0.7, 64, api_name="/chat") for n in range(replies)]
    return [job.result(timeout=60) for job in jobs], server.peak_streams


@pytest.mark.parametrize(
    ("kind", "extra", "replies", "at_once"),
    [("llama.cpp", {}, 3, 1), ("llama.cpp", {"CHAT_CONCURRENCY": "2"}, 4, 2), (None, {}, 6, 4)],
    ids=["the server's one slot", "CHAT_CONCURRENCY over the slots", "four when the server says nothing"],
)
def test_replies_wait_their_turn_in_the_queue_for_the_servers_slots(kind, extra, replies, at_once):
    with chatbot_against(kind, **extra) as (chatbot, server):
        answers, peak = peak_of_replies(chatbot, server, replies)

    assert answers == [f"You said: message {n} (turn 1)" for n in range(replies)]
    assert peak == at_once


def test_the_page_and_scripts_take_turns_for_the_same_slot():
    with chatbot_against("llama.cpp") as (chatbot, server):
        server.token_delay = 0.2
        page = ChatbotPage(chatbot)
        typing = threading.Thread(target=page.send, args=("from the page",))
        typing.start()
        scripted = chatbot.submit("from a script", SYSTEM, 0.7, 64, api_name="/chat")
        typing.join(60)

        assert scripted.result(timeout=60) == "You said: from a script (turn 1)"
        assert page.conversation == [
            ("user", "from the page"),
            ("assistant", "You said: from the page (turn 1)"),
        ]
        assert server.peak_streams == 1


# A real server: `transformers serve` on the tiny chat model


@pytest.fixture(scope="module")
def transformers_serve(tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`transformers serve`, pinned to the tiny chat model's directory, on a free local port.

    It runs offline on the CPU, seeded, as a subprocess; its output goes to a file that a failure to
    start quotes.
    """
    port = unused_port()
    log = tmp_path_factory.mktemp("transformers-serve") / "serve.log"
    command = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",
        "serve",
        str(tiny_models.chat),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--default-seed",
        "0",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
    try:
        url = f"http://127.0.0.1:{port}"
        # GET /health answers once the model is loaded.
        wait_until_answering(
            f"{url}/health",
            process,
            "transformers serve",
            SERVE_START_TIMEOUT,
            lambda: log.read_text()[-3000:],
            0.25,
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.mark.local
def test_transformers_serve_streams_a_reply_to_the_chatbot(transformers_serve, tiny_models, caplog):
    settings = endpoint_settings(transformers_serve, CHAT_MODEL=str(tiny_models.chat))
    with running_app("chatbot", settings) as chatbot:
        job = chatbot.submit("Hello", SYSTEM, 0.7, 8, api_name="/chat")
        job.result(timeout=120)
        outputs = job.outputs()

    *partial, (reply, note) = outputs
    assert len(partial) >= 2, "the reply arrived in pieces"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(partial)), (
        "each adds to the last"
    )
    assert reply == {"role": "assistant", "content": partial[-1]}, "the text that arrived is kept"
    assert note["content"] == (
        "The reply reached its limit of 8 tokens. For a longer reply, raise Max new tokens under Advanced "
        "options and press retry."
    )
    # transformers serve says neither its window nor its slots: the app says what it assumed.
    assert "did not report its slots (GET /props): 4 chat replies run at once" in caplog.text
    assert "did not report its context window" in caplog.text


@pytest.mark.local
def test_transformers_serve_refusing_another_model_names_chat_model(transformers_serve, tiny_models):
    settings = endpoint_settings(transformers_serve, CHAT_MODEL="someone/other-model")
    with running_app("chatbot", settings) as chatbot:
        message = failure(chatbot, "Hello", 8)

    assert message == (
        "the chat endpoint rejected the requested model (HTTP 400: Server is pinned to "
        f"'{tiny_models.chat}'; requested 'someone/other-model'.). Check CHAT_MODEL: set it to a model the "
        "server serves."
    )
