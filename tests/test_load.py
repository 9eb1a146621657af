"""Many users at once while the backend fails at random: every request still ends, and ends well.

Each request must finish within a bound in either the right answer for its own input or one of the
app's clear messages: none lost, none hanging, none with Gradio's generic error. Faulted requests that
the backend retries (a loading model, one 5xx) may also end in the right answer; both count.

The users call the REST API (`POST /gradio_api/call/<api_name>`, then read the event stream) as a
script would. gradio_client polls every job from two threads at 20 Hz, so with dozens of jobs at once
it would spend more CPU than the app it drives; it still makes the check after the load.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from common.settings import Settings
from testing.apps import running_app, settings_from
from testing.inference_server import (
    Fault,
    InferenceTestServer,
    RecordedRequest,
    chat_reply_for,
    summary_for,
)
from testing.rest import final_events
from tests.conftest import TEST_TOKEN

T = TypeVar("T")

SUMMARIZE_REQUESTS, SUMMARIZE_USERS = 200, 32
CHATS, CHAT_USERS = 40, 16
# How many of the CHATS streams `fault_rate(FAULT_RATE, ["stream_cut"], seed=11)` cuts: the 5th, 10th,
# 20th and 32nd to reach the server.
SEEDED_CUTS = 4
FAULT_RATE = 0.10
# The longest path through the backend's retries (a 5xx retried after 1 s, two loading waits, then
# a 1 s timeout) takes about 3 s; the rest is room for a busy test machine.
REQUEST_BOUND = 15.0
DEADLINE = 60.0
GENERIC_GRADIO_WORDS = ("upstream", "exception")
CUT_NOTE_TITLE = "⚠️ Reply cut off"
CUT_MESSAGE = "was cut before the reply finished"


@dataclass(frozen=True)
class Outcome:
    """How one request ended: the app's answer, or the message of the error it showed."""

    answer: Any = None
    error: str | None = None


@pytest.fixture
def faulty_server(server: InferenceTestServer, monkeypatch: pytest.MonkeyPatch) -> InferenceTestServer:
    monkeypatch.setattr(server, "latency", 0.05)
    monkeypatch.setattr(server, "token_delay", 0.005)
    monkeypatch.setattr(server, "estimated_time", 0.2)
    # Longer than INFERENCE_TIMEOUT, so the app gives up first; short, so hung handlers end soon.
    monkeypatch.setattr(server, "hang_seconds", 3.0)
    return server


def app_settings(server: InferenceTestServer, timeout: float) -> Settings:
    return settings_from({**server.env(), "HF_TOKEN": TEST_TOKEN, "INFERENCE_TIMEOUT": f"{timeout:g}"})


async def call(client: httpx.AsyncClient, api_name: str, data: list[Any]) -> Outcome:
    """One call on the app at the client's base URL, read to the end of its event stream.

    Each call is a session of its own, so a chat starts a new conversation: "You said: ... (turn 1)".
    """
    match await final_events(client, str(client.base_url), api_name, data, uuid.uuid4().hex):
        case [("complete", [answer, *_])]:
            return Outcome(answer=answer)
        case [("error", {"error": str(message)})]:
            return Outcome(error=message)
        case results:
            return Outcome(error=f"not one result or one message: {results!r}")


def run_users(
    url: str, users: int, jobs: Sequence[T], request: Callable[[httpx.AsyncClient, T], Awaitable[Outcome]]
) -> list[Outcome]:
    """`users` users work through their shares of `jobs` one at a time, each call bounded by
    REQUEST_BOUND and all of them by DEADLINE; every user has a connection of its own."""
    outcomes: dict[int, Outcome] = {}

    async def user(first: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=REQUEST_BOUND) as client:
            for n in range(first, len(jobs), users):
                try:
                    outcomes[n] = await asyncio.wait_for(request(client, jobs[n]), REQUEST_BOUND)
                except asyncio.TimeoutError:
                    outcomes[n] = Outcome(error=f"no result within {REQUEST_BOUND:g} s")

    async def everyone() -> None:
        await asyncio.wait_for(asyncio.gather(*(user(first) for first in range(users))), DEADLINE)

    try:
        asyncio.run(everyone())
    except asyncio.TimeoutError:
        pytest.fail(f"{len(jobs) - len(outcomes)} requests were still running after {DEADLINE:g} s")
    return [outcomes[n] for n in range(len(jobs))]


def is_clear(message: str, endpoint: str, phrases: Sequence[str]) -> bool:
    """One of the app's own messages: names the endpoint by its task (never by its address) and the
    cause, never generic, never the token."""
    lowered = message.lower()
    return (
        endpoint in message
        and "127.0.0.1" not in message
        and any(phrase in message for phrase in phrases)
        and not any(word in lowered for word in GENERIC_GRADIO_WORDS)
        and TEST_TOKEN not in message
    )


# What the summarize app says for each fault once retries cannot help.
SUMMARIZE_FAULT_MESSAGES = {
    "loading": "is still loading",
    "rate_limit": "is rate-limiting requests (HTTP 429: Rate limit reached.",
    "server_error": "failed (HTTP 500",
    "malformed_json": "sent a reply this app cannot read",
    "timeout": "did not answer within 1 s",
}
# A busy machine can also make a keep-alive connection close just as a request is sent on it.
DROPPED_CONNECTION_MESSAGE = "was cut before the reply finished (the server closed the connection)"


def summarize_verdict(outcome: Outcome, text: str, endpoint: str) -> str:
    if outcome.error is not None:
        phrases = [*SUMMARIZE_FAULT_MESSAGES.values(), DROPPED_CONNECTION_MESSAGE]
        clear = is_clear(outcome.error, endpoint, phrases)
        return "clear error" if clear else f"unclear error: {outcome.error}"
    return "answer" if outcome.answer == summary_for(text, 130) else f"wrong answer: {outcome.answer!r}"


def last_faults(
    requests: Sequence[RecordedRequest], key: Callable[[RecordedRequest], str]
) -> dict[str, Fault | None]:
    """For each input, the fault its last request met (None for none): what its user must read about."""
    return {key(request): request.fault for request in requests}


def told_of_own_fault(outcome: Outcome, text: str, fault: Fault | None) -> bool:
    """A user whose last request met a fault reads that fault's message; one whose last request met
    none reads the summary of their own text. Either may instead read that the connection dropped or
    that the endpoint did not answer in time, which a busy machine causes whatever the fault."""
    busy = (DROPPED_CONNECTION_MESSAGE, SUMMARIZE_FAULT_MESSAGES["timeout"])
    if outcome.error is not None and any(message in outcome.error for message in busy):
        return True
    if fault is None:
        return outcome.answer == summary_for(text, 130)
    return outcome.error is not None and SUMMARIZE_FAULT_MESSAGES[fault] in outcome.error


def test_summarize_under_load_with_faults_ends_every_request_well(faulty_server, record_property):
    faulty_server.fault_rate(FAULT_RATE, list(SUMMARIZE_FAULT_MESSAGES), seed=7)
    endpoint = "the summarization endpoint"
    texts = [
        f"Request {n} wants a summary of its own. The rest is left out." for n in range(SUMMARIZE_REQUESTS)
    ]

    with running_app("summarize", app_settings(faulty_server, 1)) as app:
        outcomes = run_users(
            app.src, SUMMARIZE_USERS, texts, lambda client, text: call(client, "summarize", [text, 30, 130])
        )
        verdicts = Counter(
            summarize_verdict(outcome, text, endpoint) for outcome, text in zip(outcomes, texts, strict=True)
        )
        record_property("summarize_outcomes", dict(verdicts))
        sent = faulty_server.requests_for("summarize")
        met = last_faults(sent, lambda request: request.json["inputs"])

        assert set(verdicts) <= {"answer", "clear error"}, verdicts
        # Under load a call can time out before it reaches the server: to its user, a timeout.
        met_or_timeout = {text: met.get(text, "timeout") for text in texts}
        misinformed = [
            (text, met_or_timeout[text], outcome)
            for outcome, text in zip(outcomes, texts, strict=True)
            if not told_of_own_fault(outcome, text, met_or_timeout[text])
        ]
        assert misinformed == [], "every user reads about the fault their own last request met"
        assert any(fault is not None for fault in met.values()), "the injected faults reached nobody"
        # The app retries a loading model and a first 5xx: some text met one of those, then its answer.
        retried = {request.json["inputs"] for request in sent if request.fault in ("loading", "server_error")}
        assert any(met[text] is None for text in retried), "no retry overcame a fault"

        faulty_server.reset_faults()
        assert app.predict(texts[0], api_name="/summarize") == summary_for(texts[0], 130)


def is_cut_reply(answer: Any, full_reply: str) -> bool:
    """The start of the reply, as far as it arrived, then the note saying that it was cut."""
    match answer:
        case [{"content": str(kept)}, {"content": str(note), "metadata": {"title": str(title)}}]:
            return (
                full_reply.startswith(kept)
                and 0 < len(kept) < len(full_reply)
                and title == CUT_NOTE_TITLE
                and CUT_MESSAGE in note
            )
    return False


def chat_verdict(outcome: Outcome, full_reply: str, endpoint: str) -> str:
    if outcome.error is not None:
        clear = is_clear(outcome.error, endpoint, [CUT_MESSAGE, "did not answer within"])
        return "clear error" if clear else f"unclear error: {outcome.error}"
    if outcome.answer == full_reply:
        return "full reply"
    if is_cut_reply(outcome.answer, full_reply):
        return "kept part and cut note"
    return f"wrong reply: {outcome.answer!r}"


def user(message: str) -> dict[str, str]:
    return {"role": "user", "content": message}


def test_chat_under_load_with_cut_streams_keeps_partial_replies(faulty_server, record_property):
    faulty_server.fault_rate(FAULT_RATE, ["stream_cut"], seed=11)
    endpoint = "the chat endpoint"
    messages = [f"chat {n}: tell me about lighthouses and the ships they guide" for n in range(CHATS)]

    # Only the cut is injected here, so the timeout leaves room for a busy machine.
    with running_app("chatbot", app_settings(faulty_server, 5)) as app:
        outcomes = run_users(
            app.src,
            CHAT_USERS,
            messages,
            lambda client, message: call(client, "chat", [message, "", 0.7, 256, None, None]),
        )
        met = last_faults(
            faulty_server.requests_for("chat"), lambda request: request.json["messages"][-1]["content"]
        )

        assert sum(fault == "stream_cut" for fault in met.values()) == SEEDED_CUTS
        # A stream is cut after half its tokens: its user keeps that half, with the note; the others
        # read the whole reply, or on a busy machine that the endpoint did not answer in time.
        read = {
            message: chat_verdict(outcome, chat_reply_for([user(message)]), endpoint)
            for outcome, message in zip(outcomes, messages, strict=True)
        }
        record_property("chat_outcomes", dict(Counter(read.values())))
        unexpected = {
            message: verdict
            for message, verdict in read.items()
            if verdict
            not in (
                {"kept part and cut note"}
                if met.get(message) == "stream_cut"
                else {"full reply", "clear error"}
            )
        }
        assert unexpected == {}

        faulty_server.reset_faults()
        assert app.predict("hello again", "", 0.7, 256, api_name="/chat") == "You said: hello again (turn 1)"
