"""The code base passes its own linter and formatter, as configured in pyproject.toml."""

import subprocess
import sys

from tests.harness import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_no_problems():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout


def test_code_is_formatted():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout
