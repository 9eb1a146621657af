"""Sign in with Hugging Face: a visitor's own token runs their requests, and only theirs.

Gradio injects the signed-in visitor's `gr.OAuthToken` into the task functions; these tests inject
a fake one the same way Gradio would and check which token each request to the inference server
carried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

import gradio as gr
import gradio.block_function
import gradio.http_server
import gradio.oauth
import itsdangerous
import pytest
from gradio_client import Client, handle_file

from common.tasks.chat import ChatTask
from common.tasks.summarize import SummarizeTask
from scripts.serve import load_app
from testing.apps import running_app, settings_from
from testing.inference_server import InferenceTestServer, summary_for
from tests.conftest import TEST_TOKEN
from tests.harness import ROOT

VISITOR_TOKEN = "hf_visitor_own_token_42"
LION = ROOT / "spaces/caption/examples/lion.jpg"


def visitor(token: str = VISITOR_TOKEN) -> gr.OAuthToken:
    return gr.OAuthToken(
        token=token, scope="openid profile inference-api", expires_at=int(time.time()) + 3600
    )


@pytest.fixture
def space_settings(server: InferenceTestServer):
    return settings_from({**server.env(), "HF_TOKEN": TEST_TOKEN})


def authorizations(server: InferenceTestServer, task: str) -> list[str]:
    return [request.headers["authorization"] for request in server.requests_for(task)]  # type: ignore[arg-type]


def test_a_signed_in_visitor_runs_on_their_own_token(space_settings, server):
    task = SummarizeTask(space_settings)

    summary = asyncio.run(task.summarize("A short text. Two sentences.", oauth_token=visitor()))

    assert summary == summary_for("A short text. Two sentences.", 130)
    assert authorizations(server, "summarize") == [f"Bearer {VISITOR_TOKEN}"]


def test_without_sign_in_the_spaces_own_token_is_used(space_settings, server):
    asyncio.run(SummarizeTask(space_settings).summarize("Anonymous visitor. Hello.", oauth_token=None))

    assert authorizations(server, "summarize") == [f"Bearer {TEST_TOKEN}"]


def test_concurrent_visitors_never_get_each_others_token(space_settings, server):
    server.latency = 0.05
    task = SummarizeTask(space_settings)
    people = {
        f"Visitor number {n} writes this. End.": (f"hf_token_of_{n}" if n % 3 else None) for n in range(12)
    }

    async def everyone() -> None:
        await asyncio.gather(
            *(
                task.summarize(text, oauth_token=visitor(token) if token else None)
                for text, token in people.items()
            )
        )

    asyncio.run(everyone())

    seen = {
        request.json["inputs"]: request.headers["authorization"]
        for request in server.requests_for("summarize")
    }
    assert seen == {text: f"Bearer {token or TEST_TOKEN}" for text, token in people.items()}


def test_a_visitors_chat_streams_on_their_token(space_settings, server):
    async def chat() -> list:
        return [
            reply async for reply in ChatTask(space_settings).chat("hi", "", 0.5, 32, oauth_token=visitor())
        ]

    replies = asyncio.run(chat())

    assert replies[-1] == "You said: hi (turn 1)"
    assert authorizations(server, "chat") == [f"Bearer {VISITOR_TOKEN}"]


@pytest.fixture
def on_a_space(monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of a Space with `hf_oauth: true`; returns the OAuth client secret.

    Gradio reads the OAuth variables when it is imported, so its copies are patched as well. On a
    Space Gradio also wraps functions for ZeroGPU and watches files for hot reload with the `spaces`
    package; here that name is this repository's folder of apps, so both are turned off.
    """
    secret = "test-oauth-client-secret"
    monkeypatch.setattr(gradio.block_function, "spaces", None)
    monkeypatch.setattr(gradio.http_server, "get_space", lambda: None)  # no Spaces hot-reload watcher
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "owner/space")
    for name, value in {
        "OAUTH_CLIENT_ID": "test-client",
        "OAUTH_CLIENT_SECRET": secret,
        "OAUTH_SCOPES": "openid profile inference-api",
        "OPENID_PROVIDER_URL": "https://huggingface.co",
    }.items():
        monkeypatch.setenv(name, value)
        monkeypatch.setattr(gradio.oauth, name, value)
    return secret


def session_cookie(oauth_secret: str, token: str) -> str:
    """The signed session cookie Gradio sets after a visitor signs in with Hugging Face."""
    session = {
        "oauth_info": {
            "access_token": token,
            "scope": "openid profile inference-api",
            "expires_at": int(time.time()) + 3600,
            "userinfo": {"preferred_username": "visitor", "name": "Visitor"},
        }
    }
    signer = itsdangerous.TimestampSigner(hashlib.sha256(f"{oauth_secret}-v4".encode()).hexdigest())
    return "session=" + signer.sign(base64.b64encode(json.dumps(session).encode())).decode()


def test_sign_in_through_the_app_on_a_space(space_settings, server, on_a_space):
    with running_app("caption", space_settings) as anonymous:
        cookie = session_cookie(on_a_space, VISITOR_TOKEN)
        signed_in = Client(anonymous.src, verbose=False, headers={"Cookie": cookie})

        signed_in.predict(handle_file(str(LION)), api_name="/caption")
        anonymous.predict(handle_file(str(LION)), api_name="/caption")

    assert authorizations(server, "caption") == [f"Bearer {VISITOR_TOKEN}", f"Bearer {TEST_TOKEN}"]


@pytest.mark.parametrize("name", ["caption", "imagegen", "game", "chatbot"])
def test_the_sign_in_button_is_shown_on_spaces_only(space_settings, monkeypatch, on_a_space, name):
    assert load_app(name).build_demo(space_settings).expects_oauth

    monkeypatch.delenv("SYSTEM")
    assert not load_app(name).build_demo(space_settings).expects_oauth
