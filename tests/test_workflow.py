"""The deploy workflow tests before it deploys, and deploys exactly the spaces a push changed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.harness import ROOT, SPACES

WORKFLOW = ROOT / ".github/workflows/deploy.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_runs_on_pushes_to_main_that_change_a_space_or_common(workflow):
    # YAML 1.1 reads the key `on` as the boolean True.
    triggers = workflow[True]
    assert triggers["push"]["branches"] == ["main"]
    assert set(triggers["push"]["paths"]) == {"spaces/**", "common/**"}
    assert "workflow_dispatch" in triggers


def test_the_test_job_checks_the_copies_then_runs_the_tests(workflow):
    job = workflow["jobs"]["test"]
    run = commands(job)

    assert run.index("python scripts/sync_common.py --check") < run.index("python scripts/dev.py test")


def test_every_job_uses_pinned_actions_and_python_3_11(workflow):
    for job in workflow["jobs"].values():
        steps = [step for step in job["steps"] if "uses" in step]
        assert [step["uses"] for step in steps] == ["actions/checkout@v4", "actions/setup-python@v5"]
        assert steps[1]["with"]["python-version"] == "3.11"


def test_the_deploy_job_deploys_the_changed_spaces_with_the_token_after_the_tests(workflow):
    job = workflow["jobs"]["deploy"]
    [deploy_step] = [step for step in job["steps"] if "scripts/deploy.py" in step.get("run", "")]

    assert job["needs"] == "test"
    assert "scripts/changed_spaces.py" in commands(job)
    assert deploy_step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert deploy_step["env"]["HF_OWNER"] == "${{ vars.HF_OWNER || github.repository_owner }}"
    assert '--owner "$HF_OWNER"' in deploy_step["run"]
    assert job["steps"][0]["with"]["fetch-depth"] == 0, "the diff needs the commit before the push"


def changed_spaces(*paths: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/changed_spaces.py"), *paths],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("paths", "spaces"),
    [
        (["common/settings.py"], " ".join(sorted(SPACES))),
        (["spaces/ner/app.py"], "ner"),
        (["spaces/ner/README.md", "spaces/chatbot/common/chat.py"], "chatbot ner"),
        (["README.md"], ""),
        (["docs/deploy.md", "scripts/deploy.py", "spaces/README.md"], ""),
        (["spaces/ner/app.py", "common/ui.py"], " ".join(sorted(SPACES))),
    ],
)
def test_changed_spaces_from_arguments(paths, spaces):
    assert changed_spaces(*paths) == spaces


def test_changed_spaces_reads_git_diff_output_on_stdin():
    assert changed_spaces(stdin="spaces/game/app.py\nspaces/ner/examples/sentences.txt\n\n") == "game ner"
