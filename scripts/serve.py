"""Serve all six apps from one process on one port, each on its own page.

    python scripts/serve.py [--port 7860] [--backend auto|remote|local]

Each app keeps its own endpoints at its own path (`/summarize/`, `/ner/`, ...), so a
`gradio_client.Client("http://127.0.0.1:7860/ner/")` calls exactly what it would call on the Space.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import HTMLResponse  # noqa: E402

from common.settings import Settings, load_settings  # noqa: E402
from common.ui import MAX_UPLOAD_SIZE  # noqa: E402

APPS = {
    "summarize": "Summarize a text",
    "ner": "Highlight the entities in a text",
    "caption": "Caption an image",
    "imagegen": "Generate an image from a prompt",
    "game": "Caption an image, then paint a new one from the caption",
    "chatbot": "Chat with an instruct model",
}


def load_app_module(name: str):
    """Import `spaces/<name>/app.py` under a unique name; the root `common/` serves every app."""
    spec = importlib.util.spec_from_file_location(f"spaces_{name}_app", ROOT / "spaces" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def index_page(settings: Settings) -> str:
    rows = "".join(
        f'<li><a href="/{name}/">{name}</a>: {summary} <small>({settings.backend_for(task)})</small></li>'
        for name, summary, task in (
            (name, summary, "chat" if name == "chatbot" else "imagegen" if name == "game" else name)
            for name, summary in APPS.items()
        )
    )
    return f"<!doctype html><title>gradio-genai-spaces</title><h1>gradio-genai-spaces</h1><ul>{rows}</ul>"


def build_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="gradio-genai-spaces")
    app.get("/", response_class=HTMLResponse)(lambda: index_page(settings))
    for name in APPS:
        demo = load_app_module(name).build_demo(settings)
        gr.mount_gradio_app(app, demo, path=f"/{name}", max_file_size=MAX_UPLOAD_SIZE)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--backend", choices=["auto", "remote", "local"], help="overrides INFERENCE_BACKEND")
    args = parser.parse_args(argv)
    if args.backend:
        os.environ["INFERENCE_BACKEND"] = args.backend
    settings = load_settings()
    print(f"Serving six apps on http://{args.host}:{args.port}/")
    uvicorn.run(build_app(settings), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
