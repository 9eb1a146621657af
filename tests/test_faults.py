"""Backend faults and bad input, through gradio_client: a clear message, and the app keeps serving.

Each failing call is followed by a good one on the same app, because a public Space must recover
from a bad request or a bad backend minute without a restart.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from testing.apps import running_app, settings_from
from testing.inference_server import InferenceTestServer, summary_for, unused_port
from tests.conftest import TEST_TOKEN
from tests.harness import ROOT, app_fixture

TEXT = "The tower is 324 metres tall. It is in Paris."
GENERIC_GRADIO_ERROR = "upstream"


@pytest.fixture(scope="module")
def fault_settings(inference_server: InferenceTestServer):
    return settings_from({**inference_server.env(), "HF_TOKEN": TEST_TOKEN, "INFERENCE_TIMEOUT": "1.5"})


summarize_app = app_fixture("summarize", "fault_settings")
chatbot_app = app_fixture("chatbot", "fault_settings")


def failure_message(client: Client, *args: object, api_name: str) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=api_name)
    message = str(caught.value)
    assert GENERIC_GRADIO_ERROR not in message.lower()
    assert TEST_TOKEN not in message
    return message


def still_serves(client: Client) -> None:
    assert client.predict(TEXT, api_name="/summarize") == summary_for(TEXT, 130)


def test_a_loading_model_is_waited_for(summarize_app, server):
    server.estimated_time = 0.2
    server.inject("loading", "summarize", times=2)

    assert summarize_app.predict(TEXT, api_name="/summarize") == summary_for(TEXT, 130)
    assert len(server.requests_for("summarize")) == 3


def test_a_model_that_keeps_loading_ends_in_a_clear_message(summarize_app, server):
    server.estimated_time = 0.1
    server.inject("loading", "summarize", times=10)

    message = failure_message(summarize_app, TEXT, api_name="/summarize")

    assert "still loading" in message and "try again" in message
    assert len(server.requests_for("summarize")) == 4, "retries are bounded"
    server.reset_faults()
    still_serves(summarize_app)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "rate_limit",
            [
                "rate-limiting requests (HTTP 429: Rate limit reached. You reached free usage limit "
                "(reset hourly).)",
                "HF_TOKEN",
            ],
        ),
        (
            "unauthorized",
            ["refused the request (HTTP 401: Invalid credentials in Authorization header).", "HF_TOKEN"],
        ),
        (
            "forbidden",
            ["(HTTP 403: This token does not have permission to call Inference Providers).", "licence"],
        ),
        ("bad_gateway", ["failed (HTTP 502)", "try again"]),
        ("malformed_html", ["cannot read"]),
        ("malformed_json", ["cannot read", "wrong shape"]),
        ("timeout", ["did not answer within 1.5 s", "INFERENCE_TIMEOUT"]),
    ],
)
def test_backend_faults_become_messages_that_say_what_to_do(summarize_app, server, fault, expected):
    server.inject(fault, "summarize", times=2)

    message = failure_message(summarize_app, TEXT, api_name="/summarize")

    for words in expected:
        assert words in message
    assert "<html" not in message.lower()
    server.reset_faults()
    still_serves(summarize_app)


def test_a_pinned_server_is_explained_in_chinese_too(chatbot_app, server):
    server.inject("pinned_model", "chat")
    chinese = Client(chatbot_app.src, verbose=False, headers={"Accept-Language": "zh-CN"})

    message = failure_message(chinese, "hello", "", 0.7, 64, api_name="/chat")

    assert message == (
        "the chat endpoint 拒绝了所请求的模型（HTTP 400: Server is pinned to 'X'; requested "
        "'Qwen/Qwen2.5-7B-Instruct'.）。请检查 CHAT_MODEL：把它设为服务器提供的模型。"
    )


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            "unknown_model",
            "the chat endpoint was not found (HTTP 404: The model `Qwen/Qwen2.5-7B-Instruct` does not "
            "exist or you do not have access to it.). Check CHAT_MODEL: set it to a model the server serves.",
        ),
        (
            "invalid_body",
            "the chat endpoint rejected the input (HTTP 422: body.messages: Field required). Shorten or "
            "change the input and try again.",
        ),
        (
            "pinned_model",
            "the chat endpoint rejected the requested model (HTTP 400: Server is pinned to 'X'; requested "
            "'Qwen/Qwen2.5-7B-Instruct'.). Check CHAT_MODEL: set it to a model the server serves.",
        ),
        # The app knows no window for this endpoint (it reports none) and sent the message whole; the
        # server answered 200, then refused it inside the stream, as llama-cpp-python's server does.
        (
            "stream_over_window",
            "the chat endpoint says the conversation is longer than the model's 2,048-token context window "
            "(Requested tokens (1) exceed context window of 2048). Shorten it or start a new conversation.",
        ),
    ],
)
def test_the_servers_own_reason_reaches_the_visitor(chatbot_app, server, fault, expected):
    server.inject(fault, "chat")

    assert failure_message(chatbot_app, "hello", "", 0.7, 64, api_name="/chat") == expected
    assert chatbot_app.predict("hello", "", 0.7, 64, api_name="/chat") == "You said: hello (turn 1)"


@pytest.mark.parametrize(
    ("space", "variable", "args", "api_name", "expected"),
    [
        (
            "summarize",
            "HF_API_SUMMARY_BASE",
            (TEXT,),
            "/summarize",
            "the summarization endpoint was not found (HTTP 404: Not Found). Check HF_API_SUMMARY_BASE: it "
            "must be the endpoint's full URL.",
        ),
        (
            "chatbot",
            "HF_API_CHAT_BASE",
            ("hello", "", 0.7, 64),
            "/chat",
            "the chat endpoint was not found (HTTP 404: Not Found). Check HF_API_CHAT_BASE (the endpoint's "
            "URL) and CHAT_MODEL (the model it serves).",
        ),
    ],
)
def test_a_wrong_endpoint_path_names_the_variable_to_check(server, space, variable, args, api_name, expected):
    settings = settings_from({variable: f"{server.url}/no-such-path", "HF_TOKEN": TEST_TOKEN})
    with running_app(space, settings) as client:
        assert failure_message(client, *args, api_name=api_name) == expected


def test_a_transient_server_error_is_retried_once(summarize_app, server):
    server.inject("server_error", "summarize", times=1)

    assert summarize_app.predict(TEXT, api_name="/summarize") == summary_for(TEXT, 130)
    assert len(server.requests_for("summarize")) == 2


def test_a_refused_connection_names_the_endpoints_task_and_logs_its_address(caplog):
    url = f"http://127.0.0.1:{unused_port()}/summarize"
    with running_app("summarize", settings_from({"HF_API_SUMMARY_BASE": url})) as client:
        message = failure_message(client, TEXT, api_name="/summarize")
    assert message == (
        "Could not connect to the summarization endpoint (All connection attempts failed). Check that the "
        "server is running and that HF_API_SUMMARY_BASE is its URL."
    )
    assert "127.0.0.1" not in message
    assert f"ConnectError at {url}: All connection attempts failed" in caplog.text


@pytest.mark.parametrize("fault", ["stream_cut", "stream_stall"])
def test_a_cut_stream_keeps_the_text_received_and_says_so(chatbot_app, server, fault):
    server.inject(fault, "chat")

    reply = chatbot_app.predict("tell me a long story please", "", 0.7, 256, api_name="/chat")

    assert isinstance(reply, list), "the reply and a note about the cut"
    text, note = reply[0]["content"], reply[1]
    assert text.startswith("You said:") and "(turn" not in text, "the first half of the reply is kept"
    assert note["metadata"]["title"] == "⚠️ Reply cut off"
    assert "cut before the reply finished" in note["content"]


def test_a_stream_with_no_text_is_an_error_not_a_blank_reply(chatbot_app, server):
    server.inject("malformed_html", "chat")

    message = failure_message(chatbot_app, "hello", "", 0.7, 64, api_name="/chat")

    assert "no text" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("",), "is empty"),
        (("   \n\t ",), "is empty"),
        (("\x00\x01\x02",), "is empty"),
        (("word " * 25_000,), "the limit is 100,000"),
        ((TEXT, 0, 130), "min_length must be between 1 and 512, not 0."),
        ((TEXT, 30, 100000), "max_length must be between 8 and 1024, not 100000."),
        ((TEXT, 200, 100), "must not exceed"),
        ((TEXT, 12.5, 130), "whole number"),
    ],
)
def test_bad_summarize_input_is_refused_before_the_backend(summarize_app, server, args, expected):
    message = failure_message(summarize_app, *args, api_name="/summarize")

    assert expected in message
    assert server.requests_for("summarize") == []
    still_serves(summarize_app)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("hi", "", 5.0, 64), "temperature must be between 0.1 and 1, not 5."),
        (("hi", "", 0.7, 0), "max_tokens must be between 1 and 4096, not 0."),
        (("", "", 0.7, 64), "message is empty"),
    ],
)
def test_bad_chat_input_is_refused_before_the_backend(chatbot_app, server, args, expected):
    assert expected in failure_message(chatbot_app, *args, api_name="/chat")
    assert server.requests_for("chat") == []


@pytest.mark.parametrize(
    ("fault", "note", "logged"),
    [
        pytest.param(
            "stream_end",
            "The reply from the chat endpoint stopped before it was finished (the stream closed without "
            "saying the reply was done). Press retry to ask again.",
            "StreamEndedEarlyError: The reply from the chat endpoint stopped",
            id="stops-without-finishing",
        ),
        pytest.param(
            "stream_error",
            "the chat endpoint reported an error while writing the reply (Request failed during generation: "
            "Server error: CUDA out of memory.). This is on the server's side: try again in a moment.",
            "ReplyFailedError: the chat endpoint reported an error while writing the reply",
            id="an-error-inside-the-stream-gives-the-servers-words",
        ),
    ],
)
def test_a_stream_that_fails_midway_keeps_the_text_and_says_why(
    chatbot_app, server, caplog, fault, note, logged
):
    server.inject(fault, "chat")

    reply = chatbot_app.predict("tell me a long story please", "", 0.7, 256, api_name="/chat")

    assert reply[0]["content"] == "You said: tell me a"
    assert reply[1]["metadata"]["title"] == "⚠️ Reply cut off"
    assert reply[1]["content"] == note
    assert logged in caplog.text


def test_a_reply_that_reaches_max_tokens_says_how_to_get_a_longer_one(chatbot_app, server):
    reply = chatbot_app.predict("tell me a long story please", "", 0.7, 3, api_name="/chat")

    assert reply[0]["content"] == "You said: tell"
    assert reply[1]["content"] == (
        "The reply reached its limit of 3 tokens. For a longer reply, raise Max new tokens under "
        "Advanced options and press retry."
    )


def test_a_file_that_is_not_an_image_is_refused(fault_settings, server, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"this is not an image at all")
    with running_app("caption", fault_settings) as client:
        message = failure_message(client, handle_file(str(fake)), api_name="/caption")
        assert "not an image" in message
        assert server.requests_for("caption") == []
        assert client.predict(
            handle_file(str(ROOT / "spaces/caption/examples/lion.jpg")), api_name="/caption"
        )


def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded(fault_settings, server, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 megapixels in a file of a few kilobytes
    assert bomb.stat().st_size < 1_000_000
    with running_app("caption", fault_settings) as client:
        message = failure_message(client, handle_file(str(bomb)), api_name="/caption")
    assert "12000x12000" in message and "40 megapixels" in message
    assert server.requests_for("caption") == []


def test_the_token_never_reaches_the_logs(summarize_app, server, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    for fault in ("unauthorized", "rate_limit", "server_error", "malformed_html"):
        server.inject(fault, "summarize", times=2)
        failure_message(summarize_app, TEXT, api_name="/summarize")
        server.reset_faults()
    still_serves(summarize_app)

    output = capfd.readouterr()
    assert "rate-limiting" in caplog.text, "the failures were logged"
    for record in (caplog.text, output.out, output.err):
        assert TEST_TOKEN not in record


def test_uploads_over_the_size_limit_are_refused_by_the_server(fault_settings, tmp_path):
    with running_app("caption", fault_settings) as client:
        too_big = b"\0" * (25 * 1024 * 1024 + 1)
        response = httpx.post(
            f"{client.src.rstrip('/')}/gradio_api/upload", files={"files": ("big.png", too_big)}
        )
        assert response.status_code == 413
        assert client.predict(
            handle_file(str(ROOT / "spaces/caption/examples/lion.jpg")), api_name="/caption"
        )
