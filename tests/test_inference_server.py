"""The test inference server speaks the protocol huggingface_hub 2.4 really sends, and fails as it fails.

Every test drives the server with the real `InferenceClient` or `AsyncInferenceClient`, so the exception
types asserted below are what app code must handle against the real service:

- an HTTP error status -> `HfHubHTTPError` (400 -> its subclass `BadRequestError`), `.response.status_code`
  set and `.server_message` taken from the JSON `error` field (None for an HTML body and for FastAPI's
  `detail`, the repr of an OpenAI-style `{"error": {"message": ...}}` object);
- no answer within the client's `timeout` -> `InferenceTimeoutError`, but only while waiting for the
  response headers: a stream that stalls later raises the raw `httpx2.ReadTimeout`;
- a stream dropped mid-way -> the raw `httpx2.RemoteProtocolError` while iterating;
- an error event inside a stream that began with 200 (`data: {"error": ...}`) -> a
  `TextGenerationError` holding the event's value while iterating: `GenerationError` for TGI's
  `"error_type": "generation"`, `UnknownError` for one without an `error_type` (llama.cpp's, vLLM's);
- a refused connection -> the raw `httpx2.ConnectError`;
- a 200 with the wrong body -> whatever parsing trips on (`JSONDecodeError`, `ValueError`, `TypeError`,
  `PIL.UnidentifiedImageError`), and for a chat stream nothing at all: lines that are not `data:` events
  are skipped, so the iterator ends cleanly and empty.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from huggingface_hub import AsyncInferenceClient, InferenceClient, constants
from huggingface_hub.errors import (
    BadRequestError,
    GenerationError,
    HfHubHTTPError,
    InferenceTimeoutError,
    OfflineModeIsEnabled,
    UnknownError,
)
from PIL import Image, UnidentifiedImageError

from testing.inference_server import (
    GENERATION_FAILURE,
    INFO_PATHS,
    INVALID_CREDENTIALS,
    OTHER_SERVED_MODEL,
    SERVED_MODEL,
    InferenceTestServer,
    RecordedRequest,
    Task,
    caption_for,
    chat_deltas,
    chat_reasoning_for,
    chat_reply_for,
    chat_tokens,
    image_color_for,
    ner_grouped,
    unused_port,
)

TOKEN = "hf_test_token"
TEXT = "The Eiffel Tower is in Paris. It was built in 1889 for the World's Fair. It is tall."
NER_TEXT = "My name is Andrew and I work at DeepLearningAI in New York."
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "how are you?"},
]
REPLY = "You said: how are you? (turn 2)"
# Long enough that a client timeout always fires first, short enough that nothing lingers after a test.
HANG_SECONDS = 3.0
CLIENT_TIMEOUT = 0.5


@pytest.fixture(autouse=True)
def _hub_stays_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep huggingface_hub off the network and able to call URLs.

    Both flags are read once at import, hence patching `constants` as well as the environment. With
    telemetry on, building the user-agent may fetch an agent registry from the Hub; HF_HUB_OFFLINE blocks
    every request made through huggingface_hub's session, URL endpoints included (see
    test_offline_mode_blocks_url_endpoints_too).
    """
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


MakeClient = Callable[..., InferenceClient]


@pytest.fixture
def client(server: InferenceTestServer) -> Iterator[MakeClient]:
    """Makes sync clients for a task that live until the test ends, as a sync stream dies with its client."""
    clients: list[InferenceClient] = []

    def make(task: Task, **kwargs: Any) -> InferenceClient:
        clients.append(
            InferenceClient(model=server.endpoint(task), token=kwargs.pop("token", TOKEN), **kwargs)
        )
        return clients[-1]

    yield make
    for made in clients:
        made.close()


def run_async(
    server: InferenceTestServer, task: Task, call: Callable[[AsyncInferenceClient], Any], **kwargs: Any
) -> Any:
    """Run one AsyncInferenceClient call to completion (collecting a stream) in a fresh event loop."""

    async def main() -> Any:
        async with AsyncInferenceClient(model=server.endpoint(task), token=TOKEN, **kwargs) as client:
            result = await call(client)
            if hasattr(result, "__aiter__"):
                return [chunk async for chunk in result]
            return result

    return asyncio.run(main())


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def stream_contents(chunks: Any) -> list[str]:
    return [chunk.choices[0].delta.content for chunk in chunks if chunk.choices[0].delta.content]


# Addresses


def test_endpoints_and_env_point_at_the_task_paths(server: InferenceTestServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert server.endpoint("summarize") == f"{server.url}/summarize"
    assert server.endpoint("chat") == f"{server.url}/chat"
    assert server.env() == {
        "HF_API_SUMMARY_BASE": f"{server.url}/summarize",
        "HF_API_NER_BASE": f"{server.url}/ner",
        "HF_API_ITT_BASE": f"{server.url}/caption",
        "HF_API_TTI_BASE": f"{server.url}/imagegen",
        "HF_API_CHAT_BASE": f"{server.url}/chat",
    }


def test_reset_puts_back_what_the_server_was_made_with() -> None:
    with InferenceTestServer(latency=0.01, hang_seconds=2.0) as made:
        made.latency, made.token_delay, made.hang_seconds, made.ner_shape = 1.0, 0.5, 9.0, "grouped"
        made.reasoning = "think"
        made.inject("server_error", "summarize")
        made.reset()

        assert (made.latency, made.token_delay, made.hang_seconds, made.ner_shape) == (0.01, 0.0, 2.0, None)
        assert made.reasoning is None
        summary = InferenceClient(model=made.endpoint("summarize")).summarization("One sentence. Two.")
        assert summary.summary_text == "One sentence."
        assert len(made.requests) == 1


# Summarization


def test_summarization_returns_the_first_sentence(server: InferenceTestServer, client: MakeClient) -> None:
    assert client("summarize").summarization(TEXT).summary_text == "The Eiffel Tower is in Paris."

    [request] = server.requests_for("summarize")
    assert request.path == "/summarize"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"inputs": TEXT, "parameters": {}}


def test_summarization_parameters_are_sent_nested_and_max_length_trims(
    server: InferenceTestServer, client
) -> None:
    output = client("summarize").summarization(
        TEXT, generate_parameters={"min_length": 1, "max_length": 3}, truncation="longest_first"
    )

    assert output.summary_text == "The Eiffel Tower"
    assert server.requests[0].json["parameters"] == {
        "generate_parameters": {"min_length": 1, "max_length": 3},
        "truncation": "longest_first",
    }


def test_summarization_async(server: InferenceTestServer) -> None:
    output = run_async(server, "summarize", lambda client: client.summarization("One. Two."))
    assert output.summary_text == "One."


def test_blank_summary_input_is_a_bad_request(client: MakeClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        client("summarize").summarization("   ")
    assert caught.value.response.status_code == 400
    assert caught.value.server_message == "inputs must not be empty"


# Token classification


def test_token_classification_returns_word_pieces_by_default(
    server: InferenceTestServer, client: MakeClient
) -> None:
    entities = client("ner").token_classification(NER_TEXT)

    assert [(e.entity, e.word, e.start, e.end) for e in entities] == [
        ("B-PER", "Andr", 11, 15),
        ("I-PER", "##ew", 15, 17),
        ("B-ORG", "Deep", 32, 36),
        ("I-ORG", "##Lear", 36, 40),
        ("I-ORG", "##ning", 40, 44),
        ("I-ORG", "##AI", 44, 46),
        ("B-LOC", "New", 50, 53),
        ("I-LOC", "York", 54, 58),
    ]
    assert all(e.entity_group is None for e in entities)
    assert [e.index for e in entities] == [4, 5, 10, 11, 12, 13, 15, 16]
    scores = [e.score for e in entities]
    assert all(isinstance(score, float) and 0 < score < 1 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert server.requests[0].json == {"inputs": NER_TEXT, "parameters": {}}


def test_token_classification_groups_when_an_aggregation_strategy_is_sent(
    server: InferenceTestServer, client
) -> None:
    entities = client("ner").token_classification(NER_TEXT, aggregation_strategy="simple")

    assert [(e.entity_group, e.word, e.start, e.end) for e in entities] == [
        ("PER", "Andrew", 11, 17),
        ("ORG", "DeepLearningAI", 32, 46),
        ("LOC", "New York", 50, 58),
    ]
    assert all(e.entity is None for e in entities)
    assert [e.score for e in entities] == [group["score"] for group in ner_grouped(NER_TEXT)]
    assert server.requests[0].json["parameters"] == {"aggregation_strategy": "simple"}
    assert client("ner").token_classification(NER_TEXT, aggregation_strategy="none")[0].entity == "B-PER"


def test_ner_shape_overrides_the_request(server: InferenceTestServer, client: MakeClient) -> None:
    server.ner_shape = "grouped"
    assert client("ner").token_classification("Poli lives in Vienna")[1].entity_group == "LOC"
    server.ner_shape = "pieces"
    assert client("ner").token_classification("Poli", aggregation_strategy="simple")[0].entity == "B-PER"


def test_longest_gazetteer_name_wins_and_words_must_be_whole(client: MakeClient) -> None:
    entities = client("ner").token_classification(
        "Parisian HuggingFace staff saw the Eiffel Tower.", aggregation_strategy="simple"
    )
    assert [(e.entity_group, e.word) for e in entities] == [("ORG", "HuggingFace"), ("LOC", "Eiffel Tower")]


# Image to text


def test_image_to_text_sends_raw_bytes_and_gets_a_caption(
    server: InferenceTestServer, client: MakeClient
) -> None:
    image = png_bytes((200, 30, 30))

    assert client("caption").image_to_text(image).generated_text == "a 40x30 red picture"

    [request] = server.requests_for("caption")
    assert request.body == image
    assert request.json is None
    # Raw bytes carry no MIME type, so huggingface_hub sends no Content-Type at all.
    assert "content-type" not in request.headers


def test_image_to_text_with_a_path_sends_its_mime_type(
    server: InferenceTestServer, client: MakeClient, tmp_path: Path
) -> None:
    path = tmp_path / "blue.png"
    path.write_bytes(png_bytes((10, 10, 220), size=(8, 8)))

    assert client("caption").image_to_text(path).generated_text == "a 8x8 blue picture"
    assert server.requests[0].headers["content-type"] == "image/png"


def test_image_to_text_refuses_a_pil_image_before_sending(
    server: InferenceTestServer, client: MakeClient
) -> None:
    # The hf-inference helper accepts bytes, paths and URLs only, although other helpers take PIL images.
    with pytest.raises(ValueError, match="Expected binary inputs"):
        client("caption").image_to_text(Image.new("RGB", (8, 8)))
    assert server.requests == []


# AsyncInferenceClient posts raw bytes with `data=`, which httpx2 deprecates in favour of `content=`.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")
def test_image_to_text_async(server: InferenceTestServer) -> None:
    output = run_async(server, "caption", lambda client: client.image_to_text(png_bytes((20, 180, 20))))
    assert output.generated_text == "a 40x30 green picture"


def test_caption_also_accepts_base64_json(server: InferenceTestServer) -> None:
    payload = {"inputs": base64.b64encode(png_bytes((90, 90, 95))).decode(), "parameters": {}}

    response = httpx2.post(server.endpoint("caption"), json=payload)

    assert response.json() == [{"generated_text": "a 40x30 gray picture"}]


def test_image_to_text_rejects_bytes_that_are_not_an_image(client: MakeClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        client("caption").image_to_text(b"definitely not a picture")
    assert caught.value.server_message == "cannot identify image file"


def test_caption_for_names_the_dominant_channel() -> None:
    assert caption_for(Image.new("RGB", (2, 3), (100, 105, 109))) == "a 2x3 gray picture"
    assert caption_for(Image.new("L", (5, 5), 255)) == "a 5x5 gray picture"


# Text to image


def test_text_to_image_returns_a_png_of_the_requested_size(
    server: InferenceTestServer, client: MakeClient
) -> None:
    image = client("imagegen").text_to_image(
        "a red fox", width=96, height=64, seed=7, negative_prompt="blurry", num_inference_steps=4
    )

    assert image.format == "PNG"
    assert image.size == (96, 64)
    assert image.getpixel((0, 0)) == image_color_for("a red fox", 7)
    [request] = server.requests_for("imagegen")
    assert request.headers["accept"] == "image/png"
    assert request.json == {
        "inputs": "a red fox",
        "parameters": {
            "negative_prompt": "blurry",
            "height": 64,
            "width": 96,
            "num_inference_steps": 4,
            "seed": 7,
        },
    }


def test_text_to_image_is_deterministic_per_seed(client: MakeClient) -> None:
    generate = client("imagegen").text_to_image

    first = generate("a lighthouse", width=16, height=16, seed=1).getpixel((0, 0))
    assert generate("a lighthouse", width=16, height=16, seed=1).getpixel((0, 0)) == first
    assert generate("a lighthouse", width=16, height=16, seed=2).getpixel((0, 0)) != first
    assert generate("a lighthouse").size == (512, 512)


@pytest.mark.parametrize(("width", "height"), [(8, 64), (64, 4096)])
def test_text_to_image_rejects_sizes_out_of_range(client: MakeClient, width: int, height: int) -> None:
    with pytest.raises(BadRequestError):
        client("imagegen").text_to_image("a cat", width=width, height=height)


# Chat completion


def test_chat_completion_replies_with_the_last_user_message(
    server: InferenceTestServer, client: MakeClient
) -> None:
    output = client("chat").chat_completion(MESSAGES, temperature=0.2, top_p=0.9)

    assert output.choices[0].message.content == REPLY
    assert output.choices[0].message.role == "assistant"
    assert output.choices[0].finish_reason == "stop"
    assert output.usage.completion_tokens == len(chat_tokens(REPLY))
    assert output.usage.total_tokens == output.usage.prompt_tokens + output.usage.completion_tokens
    [request] = server.requests
    assert request.path == "/chat/v1/chat/completions"
    # With a URL as model, the payload's model is the placeholder "dummy"; stream=False is always sent.
    assert request.json == {
        "model": "dummy",
        "messages": MESSAGES,
        "temperature": 0.2,
        "top_p": 0.9,
        "stream": False,
    }


def test_chat_completion_stops_at_max_tokens(client: MakeClient) -> None:
    output = client("chat").chat_completion(MESSAGES, max_tokens=3)

    assert output.choices[0].message.content == "You said: how"
    assert output.choices[0].finish_reason == "length"


def test_chat_completion_streams_tokens(server: InferenceTestServer, client: MakeClient) -> None:
    chunks = list(client("chat").chat_completion(MESSAGES, stream=True))

    assert stream_contents(chunks) == chat_tokens(REPLY)
    assert "".join(stream_contents(chunks)) == REPLY
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert [chunk.choices[0].finish_reason for chunk in chunks][-2:] == [None, "stop"]
    assert chunks[-1].usage is None
    assert server.requests[0].json["stream"] is True


def test_sync_stream_dies_with_its_client(server: InferenceTestServer) -> None:
    # The open response belongs to the client's exit stack: once the client is collected, it is closed.
    chunks = InferenceClient(model=server.endpoint("chat"), token=TOKEN).chat_completion(
        MESSAGES, stream=True
    )
    with pytest.raises(httpx2.StreamClosed):
        next(iter(chunks))


def test_chat_completion_stream_reports_usage_when_asked(client: MakeClient) -> None:
    chunks = list(
        client("chat").chat_completion(MESSAGES, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[-1].usage.completion_tokens == len(chat_tokens(REPLY))


def test_chat_completion_async_stream_and_not(server: InferenceTestServer) -> None:
    chunks = run_async(server, "chat", lambda client: client.chat_completion(MESSAGES, stream=True))
    output = run_async(server, "chat", lambda client: client.chat_completion(MESSAGES))

    assert "".join(stream_contents(chunks)) == REPLY
    assert output.choices[0].message.content == REPLY


def test_chat_reply_counts_user_turns_and_reads_content_parts() -> None:
    content_parts = [{"type": "text", "text": "describe"}, {"type": "text", "text": "this"}]
    assert chat_reply_for([{"role": "user", "content": content_parts}]) == "You said: describe this (turn 1)"
    assert chat_tokens("You said:  two") == ["You", " said:", " ", " two"]


def stream_field(chunks: Any, field: str) -> list[str]:
    return [value for chunk in chunks if (value := chunk.choices[0].delta.get(field))]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_streams_in_a_field_of_its_own_before_the_reply(
    server: InferenceTestServer, client: MakeClient, field: str
) -> None:
    server.reasoning = field  # type: ignore[assignment]

    chunks = list(client("chat").chat_completion(MESSAGES, stream=True))

    assert stream_field(chunks, field) == chat_tokens(chat_reasoning_for(MESSAGES))
    assert "".join(stream_contents(chunks)) == REPLY
    first_content = next(n for n, chunk in enumerate(chunks) if chunk.choices[0].delta.content)
    assert all(not chunk.choices[0].delta.get(field) for chunk in chunks[first_content:])


def test_reasoning_in_think_tags_cuts_each_tag_between_two_chunks(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.reasoning = "think"

    contents = stream_contents(client("chat").chat_completion(MESSAGES, stream=True))

    assert "".join(contents) == f"<think>\n{chat_reasoning_for(MESSAGES)}\n</think>\n\n{REPLY}"
    assert contents[:2] == ["<th", "ink>\nThe"]
    assert not any("<think>" in content or "</think>" in content for content in contents)


def test_reasoning_counts_against_max_tokens_and_comes_whole_without_streaming(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.reasoning = "reasoning"

    cut = client("chat").chat_completion(MESSAGES, max_tokens=3)
    whole = client("chat").chat_completion(MESSAGES)

    assert (cut.choices[0].message.reasoning, cut.choices[0].message.content) == ("The user wrote", "")
    assert cut.choices[0].finish_reason == "length"
    assert whole.choices[0].message.reasoning == chat_reasoning_for(MESSAGES)
    assert whole.choices[0].message.content == REPLY
    assert len(chat_deltas(MESSAGES, "reasoning")) == whole.usage.completion_tokens


# Recording and authentication


def test_requests_record_the_token_and_user_agent(server: InferenceTestServer, client: MakeClient) -> None:
    client("summarize").summarization(TEXT)
    client("chat").chat_completion(MESSAGES)

    assert [request.task for request in server.requests] == ["summarize", "chat"]
    for request in server.requests:
        assert isinstance(request, RecordedRequest)
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert "hf_hub/" in request.headers["user-agent"]
        assert json.loads(request.body) == request.json
    server.clear()
    assert server.requests == []


def test_required_token_rejects_other_tokens(server: InferenceTestServer, client: MakeClient) -> None:
    server.required_token = TOKEN

    with pytest.raises(HfHubHTTPError) as caught:
        client("summarize", token="hf_wrong").summarization(TEXT)
    assert caught.value.response.status_code == 401
    assert caught.value.server_message == INVALID_CREDENTIALS
    assert client("summarize").summarization(TEXT).summary_text


# Faults answered with an HTTP error

HTTP_FAULTS = [
    ("loading", 503, "Model is currently loading"),
    ("rate_limit", 429, "Rate limit reached. You reached free usage limit (reset hourly)."),
    ("unauthorized", 401, INVALID_CREDENTIALS),
    ("forbidden", 403, "This token does not have permission to call Inference Providers"),
    ("server_error", 500, "Internal server error"),
    ("bad_gateway", 502, None),
]


@pytest.mark.parametrize(("fault", "status", "message"), HTTP_FAULTS)
def test_http_faults_raise_hf_hub_http_error(
    server: InferenceTestServer, client: MakeClient, fault, status, message
) -> None:
    server.inject(fault)

    with pytest.raises(HfHubHTTPError) as caught:
        client("summarize").summarization(TEXT)

    assert type(caught.value) is HfHubHTTPError
    assert caught.value.response.status_code == status
    assert caught.value.server_message == message
    assert client("summarize").summarization(TEXT).summary_text  # consumed: the next request succeeds


@pytest.mark.parametrize(("fault", "status", "message"), HTTP_FAULTS)
def test_http_faults_raise_the_same_from_an_async_stream(
    server: InferenceTestServer, fault, status, message
) -> None:
    server.inject(fault, "chat")

    with pytest.raises(HfHubHTTPError) as caught:
        run_async(server, "chat", lambda client: client.chat_completion(MESSAGES, stream=True))

    assert caught.value.response.status_code == status
    assert caught.value.server_message == message


# Faults answered with other servers' error bodies, which huggingface_hub's server_message misses or garbles

MODEL_FAULTS = [
    ("pinned_model", 400, {"detail": "Server is pinned to 'X'; requested 'some/model'."}, None),
    (
        "unknown_model",
        404,
        {
            "error": {
                "message": "The model `some/model` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        },
        "{'message': 'The model `some/model` does not exist or you do not have access to it.', "
        "'type': 'invalid_request_error', 'param': None, 'code': 'model_not_found'}",
    ),
    (
        "invalid_body",
        422,
        {
            "detail": [
                {"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": None}
            ]
        },
        None,
    ),
]


@pytest.mark.parametrize(("fault", "status", "body", "server_message"), MODEL_FAULTS)
def test_model_faults_answer_as_transformers_serve_and_openai_do(
    server: InferenceTestServer, client: MakeClient, fault, status, body, server_message
) -> None:
    server.inject(fault, "chat")

    with pytest.raises(HfHubHTTPError) as caught:
        client("chat").chat_completion(MESSAGES, model="some/model")

    assert caught.value.response.status_code == status
    assert caught.value.response.json() == body
    assert caught.value.server_message == server_message


def test_loading_reports_the_estimated_time(server: InferenceTestServer, client: MakeClient) -> None:
    server.estimated_time = 12.5
    server.inject("loading")

    with pytest.raises(HfHubHTTPError) as caught:
        client("ner").token_classification(NER_TEXT)
    assert caught.value.response.json() == {"error": "Model is currently loading", "estimated_time": 12.5}


def test_bad_gateway_body_is_html(server: InferenceTestServer, client: MakeClient) -> None:
    server.inject("bad_gateway")
    with pytest.raises(HfHubHTTPError) as caught:
        client("caption").image_to_text(png_bytes((0, 0, 0)))
    assert caught.value.response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in caught.value.response.text


# Faults that hang, truncate or garble


def test_timeout_fault_raises_inference_timeout_error(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.hang_seconds = HANG_SECONDS
    server.inject("timeout", times=2)

    with pytest.raises(InferenceTimeoutError) as caught:
        client("summarize", timeout=CLIENT_TIMEOUT).summarization(TEXT)
    assert isinstance(caught.value.__cause__, httpx2.ReadTimeout)
    with pytest.raises(InferenceTimeoutError):
        run_async(server, "chat", lambda client: client.chat_completion(MESSAGES), timeout=CLIENT_TIMEOUT)


def test_timeout_fault_answers_normally_after_hanging(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.hang_seconds = 0.2
    server.inject("timeout")

    started = time.monotonic()
    assert client("summarize").summarization(TEXT).summary_text == "The Eiffel Tower is in Paris."
    assert time.monotonic() - started >= 0.2


def test_stream_cut_raises_remote_protocol_error_after_half_the_tokens(
    server: InferenceTestServer, client
) -> None:
    server.inject("stream_cut", times=2)
    received: list[str] = []

    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        for chunk in client("chat").chat_completion(MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == chat_tokens(REPLY)[:3]

    async def collect(client: AsyncInferenceClient) -> list[str]:
        async for chunk in await client.chat_completion(MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)
        return received

    received.clear()
    with pytest.raises(httpx2.RemoteProtocolError):
        run_async(server, "chat", collect)
    assert received == chat_tokens(REPLY)[:3]


def test_stream_stall_raises_a_raw_read_timeout(server: InferenceTestServer, client: MakeClient) -> None:
    server.hang_seconds = HANG_SECONDS
    server.inject("stream_stall", times=2)

    # Only the wait for response headers is converted to InferenceTimeoutError; mid-stream it is httpx2's.
    with pytest.raises(httpx2.ReadTimeout):
        list(client("chat", timeout=CLIENT_TIMEOUT).chat_completion(MESSAGES, stream=True))
    with pytest.raises(httpx2.ReadTimeout):
        run_async(
            server,
            "chat",
            lambda client: client.chat_completion(MESSAGES, stream=True),
            timeout=CLIENT_TIMEOUT,
        )


def test_stream_stall_resumes_after_hang_seconds(server: InferenceTestServer, client: MakeClient) -> None:
    server.hang_seconds = 0.2
    server.inject("stream_stall")

    assert "".join(stream_contents(client("chat").chat_completion(MESSAGES, stream=True))) == REPLY


def test_stream_faults_wait_for_a_streamed_chat(server: InferenceTestServer, client: MakeClient) -> None:
    server.inject("stream_cut")

    assert client("summarize").summarization(TEXT).summary_text
    assert client("chat").chat_completion(MESSAGES).choices[0].message.content == REPLY
    with pytest.raises(httpx2.RemoteProtocolError):
        list(client("chat").chat_completion(MESSAGES, stream=True))


def test_stream_error_is_an_error_event_after_half_the_tokens(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.inject("stream_error")
    received: list[str] = []

    # huggingface_hub raises an `{"error": ..., "error_type": "generation"}` event as GenerationError.
    with pytest.raises(GenerationError) as raised:
        for chunk in client("chat").chat_completion(MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content)

    assert raised.value.args == (GENERATION_FAILURE,)
    assert received == chat_tokens(REPLY)[:3]


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        (
            None,
            {
                "message": "Requested tokens (8) exceed context window of 2048",
                "type": "invalid_request_error",
            },
        ),
        (
            "llama.cpp",
            {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
            },
        ),
    ],
)
def test_stream_over_window_is_an_error_event_before_any_token(
    server: InferenceTestServer, kind: str | None, event: dict[str, Any]
) -> None:
    server.server_kind = kind  # type: ignore[assignment]
    server.inject("stream_over_window")
    received: list[Any] = []

    async def collect(client: AsyncInferenceClient) -> list[Any]:
        async for chunk in await client.chat_completion(MESSAGES, stream=True):
            received.append(chunk)
        return received

    # An event whose error is an object, without an `error_type`, is raised as UnknownError holding it.
    with pytest.raises(UnknownError) as raised:
        run_async(server, "chat", collect)

    assert raised.value.args == (event,)
    assert received == []


def test_peak_streams_counts_chat_streams_open_at_once(server: InferenceTestServer) -> None:
    server.token_delay = 0.05

    async def three_at_once(client: AsyncInferenceClient) -> list[Any]:
        async def reply() -> str:
            stream = await client.chat_completion(MESSAGES, stream=True)
            return "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

        return await asyncio.gather(reply(), reply(), reply())

    assert run_async(server, "chat", three_at_once) == [REPLY] * 3
    assert server.peak_streams == 3
    server.clear()
    assert server.peak_streams == 0


def test_malformed_html_breaks_parsing_but_ends_a_stream_silently(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.inject("malformed_html", times=3)

    with pytest.raises(json.JSONDecodeError):
        client("summarize").summarization(TEXT)
    with pytest.raises(UnidentifiedImageError):
        client("imagegen").text_to_image("a cat")
    assert list(client("chat").chat_completion(MESSAGES, stream=True)) == []


def test_malformed_json_has_the_wrong_shape(server: InferenceTestServer, client: MakeClient) -> None:
    server.inject("malformed_json", times=3)

    with pytest.raises(ValueError, match="Expected a list"):
        client("ner").token_classification(NER_TEXT)
    output = client("chat").chat_completion(MESSAGES)  # parsed leniently: every field is None
    assert output.choices is None
    assert list(client("chat").chat_completion(MESSAGES, stream=True)) == []


# Fault scheduling


def test_injected_faults_are_consumed_in_order_and_per_task(
    server: InferenceTestServer, client: MakeClient
) -> None:
    server.inject("server_error", "summarize", times=2)
    server.inject("rate_limit")

    def status(call: Callable[[], Any]) -> int:
        try:
            call()
        except HfHubHTTPError as error:
            return error.response.status_code
        return 200

    summarize = lambda: client("summarize").summarization(TEXT)  # noqa: E731
    ner = lambda: client("ner").token_classification(NER_TEXT)  # noqa: E731
    assert [status(ner), status(summarize), status(summarize), status(summarize), status(ner)] == [
        429,
        500,
        500,
        200,
        200,
    ]


def test_inject_rejects_what_cannot_happen(server: InferenceTestServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="streamed chat"):
        server.inject("stream_cut", "summarize")
    with pytest.raises(ValueError, match="at least 1"):
        server.inject("loading", times=0)
    with pytest.raises(ValueError, match="rate"):
        server.fault_rate(1.5, ["loading"])


def test_fault_rate_is_deterministic_for_a_seed(server: InferenceTestServer, client: MakeClient) -> None:
    def outcomes(seed: int) -> list[int]:
        server.fault_rate(0.5, ["server_error", "rate_limit", "stream_cut"], seed=seed)
        statuses = []
        for _ in range(24):
            try:
                client("summarize").summarization(TEXT)
                statuses.append(200)
            except HfHubHTTPError as error:
                statuses.append(error.response.status_code)
        return statuses

    first = outcomes(seed=7)
    assert outcomes(seed=7) == first
    assert outcomes(seed=8) != first
    assert 200 in first and 500 in first and set(first) <= {200, 500, 429}
    server.reset_faults()
    assert client("summarize").summarization(TEXT).summary_text


# Servers' self-descriptions


def describe(server: InferenceTestServer, method: str, path: str) -> Any:
    """What the server answers at one of its self-description paths: its JSON, or the status."""
    response = httpx2.request(method, server.endpoint("chat") + path, json={"model": SERVED_MODEL})
    return response.json() if response.status_code == 200 else response.status_code


def llama_cpp_models(n_ctx_train: int) -> dict[str, Any]:
    """What llama.cpp's server answers to GET /v1/models for the tiny chat model."""
    return {
        "object": "list",
        "data": [
            {
                "id": "tiny-chat-Q4_K_M.gguf",
                "object": "model",
                "owned_by": "llamacpp",
                "meta": {"n_ctx_train": n_ctx_train},
            }
        ],
    }


@pytest.mark.parametrize(
    ("kind", "answers"),
    [
        (None, {}),
        (
            "tgi",
            {"GET /info": {"model_id": SERVED_MODEL, "max_input_tokens": 2048, "max_total_tokens": 4096}},
        ),
        (
            "vllm",
            {
                "GET /v1/models": {
                    "object": "list",
                    "data": [
                        {"id": OTHER_SERVED_MODEL, "object": "model", "max_model_len": 8192},
                        {"id": SERVED_MODEL, "object": "model", "max_model_len": 2048},
                    ],
                }
            },
        ),
        (
            "llama.cpp",
            {
                "GET /props": {"default_generation_settings": {"n_ctx": 2048}, "total_slots": 1},
                "GET /v1/models": llama_cpp_models(n_ctx_train=8192),
            },
        ),
        (
            "llama.cpp-models",
            {"GET /v1/models": llama_cpp_models(n_ctx_train=2048)},
        ),
        (
            "ollama",
            {
                "POST /api/show": {
                    "parameters": 'stop "<end_of_turn>"',
                    "model_info": {"general.architecture": "gemma2", "gemma2.context_length": 2048},
                }
            },
        ),
    ],
)
def test_each_server_kind_describes_itself_at_its_own_paths_only(
    server: InferenceTestServer, kind: str | None, answers: dict[str, Any]
) -> None:
    server.server_kind = kind  # type: ignore[assignment]

    for method, path in INFO_PATHS:
        assert describe(server, method, path) == answers.get(f"{method} {path}", 404), f"{method} {path}"
    assert server.info_requests == [f"{method} {path}" for method, path in INFO_PATHS]
    assert server.requests == [], "self-descriptions are not inference requests"


def test_ollama_describes_only_the_model_it_serves(server: InferenceTestServer) -> None:
    server.server_kind = "ollama"

    response = httpx2.post(server.endpoint("chat") + "/api/show", json={"model": "llama3.2"})

    assert response.status_code == 404


def test_self_descriptions_need_the_required_token(server: InferenceTestServer) -> None:
    server.server_kind = "llama.cpp"
    server.required_token = TOKEN
    props = server.endpoint("chat") + "/props"

    assert httpx2.get(props).status_code == 401
    assert httpx2.get(props, headers={"Authorization": f"Bearer {TOKEN}"}).json()["total_slots"] == 1


# Latency and concurrency


def test_latency_is_spent_concurrently(server: InferenceTestServer) -> None:
    server.latency = 0.3

    async def many(client: AsyncInferenceClient) -> list[Any]:
        return await asyncio.gather(*(client.summarization(f"Request {n}. Tail.") for n in range(32)))

    started = time.monotonic()
    outputs = run_async(server, "summarize", many)
    elapsed = time.monotonic() - started

    assert [output.summary_text for output in outputs] == [f"Request {n}." for n in range(32)]
    assert 0.3 <= elapsed < 2.0


def test_token_delay_spaces_streamed_tokens(server: InferenceTestServer, client: MakeClient) -> None:
    server.token_delay = 0.05

    started = time.monotonic()
    chunks = list(client("chat").chat_completion(MESSAGES, stream=True))

    assert "".join(stream_contents(chunks)) == REPLY
    assert time.monotonic() - started >= 0.05 * (len(chat_tokens(REPLY)) - 1)


# Lifecycle


def test_stop_returns_promptly_while_a_request_hangs() -> None:
    server = InferenceTestServer(hang_seconds=60).start()
    server.inject("timeout", "summarize")
    server.inject("stream_stall", "chat")
    outcomes: list[Any] = []

    def call(run: Callable[[], Any]) -> threading.Thread:
        def target() -> None:
            try:
                outcomes.append(run())
            except Exception as error:
                outcomes.append(error)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread

    client = InferenceClient(model=server.endpoint("summarize"), token=TOKEN)
    chat = InferenceClient(model=server.endpoint("chat"), token=TOKEN)
    threads = [
        call(lambda: client.summarization(TEXT)),
        call(lambda: list(chat.chat_completion(MESSAGES, stream=True))),
    ]
    deadline = time.monotonic() + 2
    while len(server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # let the stream deliver its first half

    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0

    for thread in threads:
        thread.join(2)
        assert not thread.is_alive()
    # The hung request is answered as soon as the server stops; the stalled stream is dropped.
    summaries = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert [summary.summary_text for summary in summaries] == ["The Eiffel Tower is in Paris."]
    assert [type(error) for error in errors] == [httpx2.RemoteProtocolError]


def test_start_stop_and_restart() -> None:
    server = InferenceTestServer()
    with pytest.raises(RuntimeError):
        _ = server.url

    with server:
        first_url = server.url
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    server.stop()  # idempotent

    with pytest.raises(httpx2.ConnectError):
        InferenceClient(model=f"{first_url}/summarize", token=TOKEN).summarization(TEXT)
    server.start()
    try:
        assert (
            InferenceClient(model=server.endpoint("summarize"), token=TOKEN).summarization(TEXT).summary_text
        )
    finally:
        server.stop()


def test_unused_port_refuses_connections_with_a_raw_connect_error() -> None:
    client = InferenceClient(model=f"http://127.0.0.1:{unused_port()}/summarize", token=TOKEN)
    with pytest.raises(httpx2.ConnectError):
        client.summarization(TEXT)


def test_offline_mode_blocks_url_endpoints_too(
    server: InferenceTestServer, client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(OfflineModeIsEnabled):
        client("summarize").summarization(TEXT)
    assert server.requests == []


TOOLS = [
    {"type": "function", "function": {"name": "lookup", "description": "Looks up.", "parameters": {}}},
    {"type": "function", "function": {"name": "paint", "description": "Paints.", "parameters": {}}},
]
ASKING_FOR_TOOLS = [
    {
        "role": "user",
        "content": 'call lookup {"q": "Paris"} and call paint {"prompt": "a fox"} and call nope {}',
    }
]


def test_tool_calls_stream_with_their_arguments_in_fragments(
    server: InferenceTestServer, client: MakeClient
) -> None:
    chunks = list(client("chat").chat_completion(ASKING_FOR_TOOLS, tools=TOOLS, stream=True))

    deltas = [call for chunk in chunks for call in chunk.choices[0].delta.tool_calls or ()]
    assert [(delta.index, delta.id, delta.function.name) for delta in deltas if delta.id] == [
        (0, "call_1_0", "lookup"),
        (1, "call_1_1", "paint"),
    ]
    lookup_fragments = [delta.function.arguments for delta in deltas if delta.index == 0 and not delta.id]
    assert lookup_fragments == ['{"q":', ' "Par', 'is"}']
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_results_are_answered_and_tools_are_refused_on_demand(
    server: InferenceTestServer, client: MakeClient
) -> None:
    results = [
        *ASKING_FOR_TOOLS,
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1_0", "type": "function"}]},
        {"role": "tool", "tool_call_id": "call_1_0", "content": "Paris is in France."},
    ]
    answered = client("chat").chat_completion(results, tools=TOOLS)
    unasked = client("chat").chat_completion(ASKING_FOR_TOOLS, tools=TOOLS, tool_choice="none")
    server.refuse_tools = True

    assert answered.choices[0].message.content == "The tools said: Paris is in France."
    assert unasked.choices[0].message.tool_calls is None
    with pytest.raises(BadRequestError, match="tool choice requires --enable-auto-tool-choice"):
        client("chat").chat_completion(ASKING_FOR_TOOLS, tools=TOOLS)
