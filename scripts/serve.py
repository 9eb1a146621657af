"""Serve all six apps from one process on one port, each on its own page.

    python scripts/serve.py [--port 7860] [--backend auto|remote|local] [--share] [--no-mcp]

Each app keeps its own endpoints at its own path (`/summarize/`, `/ner/`, ...), so
`gradio_client.Client("http://127.0.0.1:7860/ner/")` calls exactly what it would call on the Space,
and each app's MCP tools are at `/<name>/gradio_api/mcp/`.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import secrets
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse  # noqa: E402
from gradio import networking  # noqa: E402

from common.backends.hub_access import Availability, availability  # noqa: E402
from common.i18n import preferred_language, text  # noqa: E402
from common.settings import Settings, Task, ToolServer, load_settings  # noqa: E402
from common.tools import ToolBox  # noqa: E402
from common.ui import mount, set_local_url, show_note  # noqa: E402
from scripts.serving import ServerNotStarted, serving  # noqa: E402

# Each app and the tasks it runs (for the index page's column of where models run).
APPS: dict[str, tuple[Task, ...]] = {
    "summarize": ("summarize",),
    "ner": ("ner",),
    "caption": ("caption",),
    "imagegen": ("imagegen",),
    "game": ("caption", "imagegen"),
    "chatbot": ("chat",),
}


@cache
def load_app(name: str) -> ModuleType:
    """Import `spaces/<name>/app.py` once, under a unique name; the root `common/` serves every app.

    Every app's file is called `app.py` and `spaces/` is not a package, so each is loaded from its path.
    """
    spec = importlib.util.spec_from_file_location(f"spaces_{name}_app", ROOT / "spaces" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The same colours as the apps' theme (common/ui.py), at WCAG AA contrast or more, light and dark.
INDEX_STYLE = """
:root { color-scheme: light dark; --text: #27272a; --subdued: #52525b; --link: #c2410c;
  --card: #ffffff; --border: #e4e4e7; --page: #fafafa; }
@media (prefers-color-scheme: dark) { :root { --text: #f4f4f5; --subdued: #d4d4d8; --link: #fdba74;
  --card: #27272a; --border: #3f3f46; --page: #18181b; } }
body { font-family: system-ui, sans-serif; margin: 0; padding: 2rem 1rem; background: var(--page);
  color: var(--text); }
main { max-width: 60rem; margin: 0 auto; }
h1 { margin: 0 0 0.25rem; }
ul { list-style: none; padding: 0; display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); }
li { background: var(--card); border: 1px solid var(--border); border-radius: 0.75rem; padding: 1rem; }
a { color: var(--link); font-weight: 600; font-size: 1.15rem; text-decoration: none; }
a:hover, a:focus { text-decoration: underline; }
p { margin: 0.5rem 0 0; }
.where { color: var(--subdued); font-size: 0.9rem; }
"""
FAVICON = (
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'>"
    "<text y='.9em' font-size='90'>🤗</text></svg>"
)


def app_title(name: str, language: str) -> str:
    """The title the app's own page shows (its heading, without the Markdown)."""
    return text(f"{name}_title", language).lstrip("# ")


def index_page(settings: Settings, language: str) -> str:
    """The apps as cards, in the visitor's language: each one's title links to it, with what it does
    and where its models run."""
    rows = "".join(
        f'<li><a href="/{name}/">{html.escape(app_title(name, language))}</a>'
        f"<p>{html.escape(text(f'index_{name}', language))}</p><p class='where'>"
        f"{html.escape(where_models_run(settings, tasks, language))}</p></li>"
        for name, tasks in APPS.items()
    )
    return (
        f"<!doctype html><html lang='{language}'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f'<link rel="icon" href="{FAVICON}"><title>gradio-genai-spaces</title><style>{INDEX_STYLE}</style>'
        f"<body><main><h1>gradio-genai-spaces</h1><p>{html.escape(text('index_heading', language))}</p>"
        f"<ul>{rows}</ul></main></body></html>"
    )


def where_models_run(settings: Settings, tasks: tuple[Task, ...], language: str) -> str:
    """ "remote", or whether the in-process models are ready, download on first use, or cannot be had."""
    parts = []
    if any(settings.backend_for(task) == "remote" for task in tasks):
        parts.append(text("index_remote", language))
    local = [availability(settings.for_task(task)) for task in tasks if settings.backend_for(task) == "local"]
    if local:
        parts.append(text("index_local", language, status=_status(local, language)))
    return " ".join(parts)


def _status(models: list[Availability], language: str) -> str:
    """The least ready of the models: any unreachable, else any to download (with their size)."""
    if any(model.status == "unreachable" for model in models):
        return text("index_unreachable", language)
    downloads = [model.download_bytes for model in models if model.status == "download"]
    if not downloads:
        return text("index_ready", language)
    if None in downloads:
        return text("index_download_unsized", language)
    return text("index_download", language, size=f"{sum(downloads) / 1e9:.1f} GB")  # type: ignore[arg-type]


def build_app(settings: Settings, mcp_server: bool = True) -> FastAPI:
    """One FastAPI app with every demo mounted on its own path, each protected as if it were launched."""
    app = FastAPI(title="gradio-genai-spaces")

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> str:
        return index_page(settings, preferred_language(request.headers.get("accept-language", "")))

    # The chatbot calls the tools of MCP_SERVERS, else those of its sibling apps once their address
    # is known (`set_local_urls`).
    app.state.tools = ToolBox(settings.mcp_servers or (), show_note)
    app.state.tools_of_siblings = mcp_server and settings.mcp_servers is None
    app.state.demos = {}
    for name in APPS:
        app_module = load_app(name)
        demo = (
            app_module.build_demo(settings, app.state.tools)
            if name == "chatbot"
            else app_module.build_demo(settings)
        )
        app.state.demos[name] = demo
        mount(app, demo, f"/{name}", mcp_server)
    return app


def sibling_tool_servers(base_url: str) -> list[ToolServer]:
    """The MCP servers of every app but the chatbot, under `base_url`."""
    return [
        ToolServer(name, f"{base_url.rstrip('/')}/{name}/gradio_api/mcp/")
        for name in APPS
        if name != "chatbot"
    ]


def loopback_address(host: str) -> str:
    """Where this machine reaches a server listening on `host`, as a URL's host part."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def set_local_urls(app: FastAPI, base_url: str) -> None:
    """Give every mounted app its own address under `base_url` (where the server listens), and the
    chatbot the tools of the others, unless MCP_SERVERS says which servers it calls."""
    for name, demo in app.state.demos.items():
        set_local_url(demo, f"{base_url.rstrip('/')}/{name}/")
    if app.state.tools_of_siblings:
        app.state.tools.use(sibling_tool_servers(base_url))


def open_share_link(port: int) -> str | None:
    """A public *.gradio.live link to the local server, or None (with a note) when offline."""
    try:
        return networking.setup_tunnel("127.0.0.1", port, secrets.token_urlsafe(32), None, None)
    except (RuntimeError, OSError) as error:
        print(f"No share link ({error}); is this machine offline? The apps are still served locally.")
        return None


def serve(app: FastAPI, host: str, port: int, share: bool) -> None:
    """Run the server until interrupted; the share tunnel opens once the server accepts connections."""
    # The apps call themselves (MCP) on this machine, whatever address the server is reached at; set
    # before the first request, so no caller's Host header is ever taken for it.
    set_local_urls(app, f"http://{loopback_address(host)}:{port}")
    try:
        with serving(app, host, port) as served:
            print(f"Serving six apps on http://{host}:{port}/")
            if share and (url := open_share_link(port)):
                print(f"Public link (expires with this process): {url}")
            served.wait()
    except ServerNotStarted:
        raise SystemExit(
            f"The server did not start on {host}:{port}. If another program uses port {port}, choose "
            "another with --port or GRADIO_SERVER_PORT."
        ) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--backend", choices=["auto", "remote", "local"], help="overrides INFERENCE_BACKEND")
    parser.add_argument("--share", action="store_true", help="also serve on a public share link")
    parser.add_argument("--no-mcp", dest="mcp", action="store_false", help="do not serve MCP tools")
    args = parser.parse_args(argv)
    if args.backend:
        os.environ["INFERENCE_BACKEND"] = args.backend
    serve(build_app(load_settings(), mcp_server=args.mcp), args.host, args.port, args.share)


if __name__ == "__main__":
    main()
