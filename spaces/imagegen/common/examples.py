"""Example inputs, kept as files in each space's `examples/` folder rather than in code."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def text_examples(app_file: str, language: str | None = None) -> list[str]:
    """Every non-blank line of the `*.txt` files beside the app, in file-name order; for a
    `language`, those of `examples/<language>/` instead (examples written in that language)."""
    folder = Path(app_file).parent / "examples" / (language or "")
    return [
        line.strip()
        for path in sorted(folder.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def image_examples(app_file: str) -> list[str]:
    """Paths of the example images beside the app, in file-name order."""
    folder = Path(app_file).parent / "examples"
    return sorted(str(path) for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
