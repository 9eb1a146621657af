"""Gradio's wire protocol spoken by hand, as an attacker or a curl user would: no client library
between the test and the server, so nothing is checked or shaped on the way."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from testing.rest import EventStream

# Every call in these tests gets an answer at once or after one fast test-server reply.
CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Result:
    """How an event ended: its output values, or the message of its error (None when Gradio hid it)."""

    output: list[Any] | None
    error: str | None
    failed: bool
    raw: str

    @property
    def message(self) -> str:
        return self.error or ""


def app_config(base_url: str) -> dict[str, Any]:
    """An app's `/config`: its components and every event (`dependencies`), in fn_index order."""
    response = httpx.get(f"{base_url.rstrip('/')}/config", timeout=CALL_TIMEOUT)
    response.raise_for_status()
    return response.json()


def join_queue(base_url: str, fn_index: int, data: list[Any], session_hash: str | None = None) -> Result:
    """Run event `fn_index` through `gradio_api/queue/join`, as the page's own frontend does, and read
    its event stream to the end."""
    base = base_url.rstrip("/")
    session = session_hash or uuid.uuid4().hex
    body = {
        "data": data,
        "fn_index": fn_index,
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    with httpx.Client(timeout=CALL_TIMEOUT) as client:
        joined = client.post(f"{base}/gradio_api/queue/join", json=body)
        if joined.status_code != 200:
            return Result(None, joined.text, True, joined.text)
        raw: list[str] = []
        with client.stream(
            "GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}
        ) as stream:
            for line in stream.iter_lines():
                raw.append(line)
                if not line.startswith("data:"):
                    continue
                message = json.loads(line.removeprefix("data:"))
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    return Result(
                        output.get("data"), output.get("error"), not message.get("success"), "\n".join(raw)
                    )
                if message.get("msg") in ("queue_full", "unexpected_error"):
                    return Result(None, message.get("message"), True, "\n".join(raw))
    return Result(None, None, True, "\n".join(raw))


def call_api(base_url: str, api_name: str, data: Any, headers: dict[str, str] | None = None) -> Result:
    """`POST /gradio_api/call/<api_name>`, then read the event stream, as the REST docs show with curl."""
    base = base_url.rstrip("/")
    with httpx.Client(timeout=CALL_TIMEOUT, headers=headers) as client:
        posted = client.post(f"{base}/gradio_api/call/{api_name}", json={"data": data})
        if posted.status_code != 200:
            return Result(None, posted.text, True, posted.text)
        text = client.get(f"{base}/gradio_api/call/{api_name}/{posted.json()['event_id']}").text
    events = EventStream()
    output, error = None, None
    for event, payload in filter(None, map(events.read, text.splitlines())):
        if event == "complete":
            output = payload
        elif event == "error":
            error = payload.get("error") if isinstance(payload, dict) else payload
    return Result(output, error, output is None, text)


def file_payload(path: str) -> dict[str, Any]:
    """A value that names a file as Gradio's frontend does after an upload."""
    return {"path": path, "meta": {"_type": "gradio.FileData"}}
