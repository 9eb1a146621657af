"""The apps' endpoints, called on deployed Spaces: the checks a user's script relies on.

Set `DEPLOYED_<APP>` to a Space id (`owner/summarize`) or URL to run them, e.g.
`DEPLOYED_SUMMARIZE=owner/summarize DEPLOYED_CHATBOT=owner/chatbot python -m pytest -m deployed`; a
private Space also needs `HF_TOKEN`. Real models answer, so these check shapes, not exact text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.harness import ROOT, SPACES

pytestmark = pytest.mark.deployed

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
LION = str(ROOT / "spaces/caption/examples/lion.jpg")
ENTITY_TYPES = {"PER", "ORG", "LOC", "MISC"}
# A cold Space builds and loads its model first; a deployed endpoint may take minutes to answer.
CALL_TIMEOUT = 600


def deployed(app: str) -> Iterator[Client]:
    variable = f"DEPLOYED_{app.upper()}"
    target = os.environ.get(variable)
    if not target:
        pytest.skip(f"no deployed Space to call: set {variable} to its id (owner/{app}) or URL")
    yield Client(target, token=os.environ.get("HF_TOKEN") or None, verbose=False)


def deployed_fixture(app: str) -> Callable[[], Iterator[Client]]:
    """A module-scoped fixture: a client of the deployed Space of `app`, or a skip saying what to set."""

    @pytest.fixture(scope="module")
    def client() -> Iterator[Client]:
        yield from deployed(app)

    return client


summarize, ner, caption, imagegen, game, chatbot = (deployed_fixture(app) for app in SPACES)


def test_summarize(summarize: Client):
    summary = summarize.submit(EIFFEL, 20, 60, api_name="/summarize").result(timeout=CALL_TIMEOUT)
    assert isinstance(summary, str) and 0 < len(summary) < len(EIFFEL)


def test_ner(ner: Client):
    text = "My name is Andrew, I'm building DeepLearningAI and I live in California"
    spans = ner.submit(text, api_name="/ner").result(timeout=CALL_TIMEOUT)

    assert "".join(span["token"] for span in spans) == text
    labels = {span["class_or_confidence"] for span in spans} - {None}
    assert labels and labels <= ENTITY_TYPES
    entities = ner.submit(text, 0.0, api_name="/entities").result(timeout=CALL_TIMEOUT)
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)


def test_caption(caption: Client):
    text = caption.submit(handle_file(LION), api_name="/caption").result(timeout=CALL_TIMEOUT)
    assert isinstance(text, str) and text.strip()


def test_imagegen(imagegen: Client):
    job = imagegen.submit("a lighthouse at dusk", "blurry", 8, 7, 256, 256, 7, api_name="/generate")
    path, seed = job.result(timeout=CALL_TIMEOUT)
    assert seed == 7
    assert Image.open(path).size == (256, 256)


def test_game(game: Client):
    text, painted = game.submit(handle_file(LION), api_name="/caption_and_generate").result(
        timeout=CALL_TIMEOUT
    )
    assert text.strip()
    assert Path(painted).exists() and Image.open(painted).size[0] > 0


def test_chatbot_streams(chatbot: Client):
    job = chatbot.submit("Count from one to ten in words.", "Be brief.", 0.3, 64, api_name="/chat")
    reply = job.result(timeout=CALL_TIMEOUT)
    partials = [output for output in job.outputs() if isinstance(output, str)]
    assert isinstance(reply, str) and reply.strip()
    assert len(partials) > 1, "the reply arrived in one piece instead of streaming"
