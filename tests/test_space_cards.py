"""Each space folder is a valid Spaces repository: its card and its requirements match what it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from common.settings import DEFAULT_MODELS
from scripts.serve import APPS
from tests.harness import ROOT, SPACES, card

# The colours the Hub accepts for a card's gradient.
PALETTE = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
# The Hub truncates longer descriptions on the Space's card.
MAX_SHORT_DESCRIPTION = 60


def pins(path: Path) -> dict[str, Requirement]:
    """The requirements of a file by canonical name; comments and blank lines skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    requirements = [Requirement(line) for line in lines if line]
    return {canonicalize_name(requirement.name): requirement for requirement in requirements}


def pinned_version(requirement: Requirement) -> str:
    [specifier] = requirement.specifier
    assert specifier.operator == "==" and "*" not in specifier.version, f"{requirement} is not an exact pin"
    return specifier.version


def test_every_space_folder_is_listed():
    assert {path.parent.name for path in (ROOT / "spaces").glob("*/app.py")} == set(SPACES) == set(APPS)


@pytest.mark.parametrize("space", SPACES)
def test_card_describes_the_space(space):
    metadata = card(space)

    for key in ("title", "emoji", "license"):
        assert isinstance(metadata.get(key), str) and metadata[key].strip(), f"{key} is missing"
    assert metadata["colorFrom"] in PALETTE
    assert metadata["colorTo"] in PALETTE
    assert metadata["sdk"] == "gradio"
    assert metadata["app_file"] == "app.py"
    assert (ROOT / "spaces" / space / metadata["app_file"]).is_file()
    assert 0 < len(metadata["short_description"]) <= MAX_SHORT_DESCRIPTION, metadata["short_description"]
    assert "secret|HF_TOKEN" in metadata["tags"], "the card must declare the secret the Space needs"


@pytest.mark.parametrize("space", SPACES)
def test_card_lists_the_default_models_of_its_tasks(space):
    # A space may offer more models (the chatbot's picker); its defaults are always among them.
    assert {DEFAULT_MODELS[task] for task in APPS[space]} <= set(card(space)["models"])


@pytest.mark.parametrize("space", SPACES)
def test_card_sdk_version_is_the_pinned_gradio(space):
    space_pins, root_pins = (
        pins(ROOT / "spaces" / space / "requirements.txt"),
        pins(ROOT / "requirements.txt"),
    )

    sdk_version = str(card(space)["sdk_version"])
    assert sdk_version == pinned_version(space_pins["gradio"]) == pinned_version(root_pins["gradio"])


@pytest.mark.parametrize("space", SPACES)
def test_requirements_are_exact_pins_without_torch(space):
    space_pins, root_pins = (
        pins(ROOT / "spaces" / space / "requirements.txt"),
        pins(ROOT / "requirements.txt"),
    )

    for requirement in space_pins.values():
        pinned_version(requirement)
    assert "torch" not in space_pins, "a remote-backend Space must not install torch"
    assert space_pins["huggingface-hub"].specifier == root_pins["huggingface-hub"].specifier


@pytest.mark.parametrize("space", SPACES)
def test_card_enables_sign_in_for_inference_on_the_visitors_token(space):
    metadata = card(space)
    assert metadata.get("hf_oauth") is True
    assert "inference-api" in metadata.get("hf_oauth_scopes", [])
    requirements = (ROOT / "spaces" / space / "requirements.txt").read_text()
    assert "oauth" in Requirement(next(line for line in requirements.splitlines() if "gradio" in line)).extras
