"""What every app does the same way around its UI: its API endpoints, queue sizing, launching and
mounting.

Queue limits, cache clean-up and what callers see of the API are set when the demo is built, not at
launch, so they hold however the demo is served: `python app.py`, `gradio app.py`, Spaces, or mounted
by serve-all. A mounted demo gets exactly the protections of a launched one (`mount`).
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import gradio as gr
from fastapi import FastAPI
from gradio.i18n import I18nData
from gradio.utils import get_space

from common.api_info import block_fn_named, name_json_result, publish_api_info
from common.backends.endpoint_info import slots_reported
from common.calls import refuse_malformed_calls
from common.components import hold_only_received_files
from common.errors import log_note
from common.i18n import CHINESE, catalog, i18n, text
from common.mcp_tools import adapt_mcp_tools
from common.settings import Settings, Task
from common.validation import Range

logger = logging.getLogger("common")

# Remote calls wait on the network, not the CPU: many can be in flight at once. Gradio's default
# of one per event would make every visitor wait for the previous one.
REMOTE_CONCURRENCY = 64
# A chat reply in-process uses the whole CPU or GPU: one at a time, the others see their place in
# the queue. Other in-process tasks take as many requests at once as their model batches.
LOCAL_CONCURRENCY = 1
# A self-hosted chat server that does not say how many replies it runs at once may run one (llama.cpp
# and Ollama start with few slots): a few at a time keep it busy, the rest wait in Gradio's queue,
# where they see their place, instead of piling up on the server past its timeouts.
ENDPOINT_CHAT_CONCURRENCY = 4
# The Gradio queue group of every event that writes a chat reply: the page's and the API's take
# turns for the same slots of the server.
CHAT_REPLIES = "chat_replies"
# Beyond this many waiting requests new ones are refused at once instead of queueing for minutes.
QUEUE_MAX_SIZE = 256
MAX_UPLOAD_SIZE = "25mb"
# Uploads and generated images are deleted a day after they were written, checked every hour, so a
# long-running app never fills its disk: (how often, how old) in seconds, as `gr.Blocks` takes them.
DELETE_CACHE = (3600, 86400)
ANALYTICS_SUMMARY_EVERY = "100"
# Image inputs skip Gradio's preprocessing: `common.images` reads the upload itself, so a file
# that is not an image gets a clear message instead of Gradio's generic "upstream" error.
RAW_UPLOAD = {"preprocess": False}
# Gradio injects a progress tracker into a parameter with this default. Tracking tqdm shows the
# model download and loading bars on a local model's first use.
FIRST_LOAD_PROGRESS = gr.Progress(track_tqdm=True)

# Gradio's default theme with the text and buttons a reader needs at WCAG AA contrast (4.5:1) or
# more: hints under labels (where the key guidance is) #52525b on white, 7.7:1 instead of 1.9:1;
# white on the primary buttons' #c2410c, 5.2:1 instead of 2.8:1; placeholders #71717a, 4.8:1.
THEME = gr.themes.Default().set(
    block_info_text_color="*neutral_600",
    block_info_text_color_dark="*neutral_300",
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_300",
    input_placeholder_color="*neutral_500",
    input_placeholder_color_dark="*neutral_400",
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_hover_dark="*primary_800",
    button_primary_text_color="white",
    button_primary_text_color_dark="white",
    button_primary_border_color="*primary_700",
    button_primary_border_color_dark="*primary_700",
)
# A gallery as tall as its images: Gradio's `height="auto"` caps it at a fixed height and crops the
# rest, captions included.
FIT_CONTENT = "fit-content"
# Class names the page's style and script below look for.
CHAT_MESSAGE_BOX = "chat-message-box"
CHAT_CONVERSATIONS = "chat-conversations"
# On a narrow screen the saved conversations go below the chat, so that the conversation and the
# message box are what a phone shows first.
PAGE_CSS = f"""
@media (max-width: 640px) {{
  .{CHAT_CONVERSATIONS} {{ order: 1; }}
}}
"""
# Gradio titles its toasts with their English type ("Error", "Warning", "Info") in every language.
TOAST_TITLES = {
    language: {kind: texts[f"toast_{kind.lower()}"] for kind in ("Error", "Warning", "Info")}
    for language, texts in catalog().items()
}
TOAST_TITLES["zh"] = TOAST_TITLES[CHINESE]
# Gradio shows example images with no text: each is named by its file (`example_<file name>`).
EXAMPLE_NAMES = {
    language: {
        key.removeprefix("example_"): name for key, name in texts.items() if key.startswith("example_")
    }
    for language, texts in catalog().items()
}
EXAMPLE_NAMES["zh"] = EXAMPLE_NAMES[CHINESE]
# Buttons of Gradio's image input whose names Gradio writes in English only, by their catalog keys.
GRADIO_BUTTONS = {
    "Upload file": "button_upload_file",
    "Capture from camera": "button_camera",
    "Paste from clipboard": "button_paste",
    # The chat's message box: it takes pictures only.
    "Upload a file": "button_attach_picture",
    "Remove file": "button_remove_file",
}
BUTTON_NAMES = {
    language: {english: texts[key] for english, key in GRADIO_BUTTONS.items()}
    for language, texts in catalog().items()
}
BUTTON_NAMES["zh"] = BUTTON_NAMES[CHINESE]
# What Gradio leaves to the keyboard and the eye: a chat's send button stays disabled while the
# message box holds neither text nor a picture (Gradio enables it whenever the box is enabled, so the
# button is watched rather than set once); the box's text area is named by the box's label, which
# Gradio's multimodal box shows to no one; in the box that edits a sent message Enter sends
# (Shift+Enter is a new line), as in the message box; toasts are titled, example images and the
# buttons of the image input and the message box named, in the browser's language.
PAGE_SCRIPT = f"""() => {{
  const language = navigator.language;
  const inLanguage = (texts) => texts[language] || texts[language.split("-")[0]] || texts.en;
  const toastTitles = inLanguage({json.dumps(TOAST_TITLES, ensure_ascii=False)});
  const exampleNames = inLanguage({json.dumps(EXAMPLE_NAMES, ensure_ascii=False)});
  const buttonNames = inLanguage({json.dumps(BUTTON_NAMES, ensure_ascii=False)});
  const sync = () => {{
    for (const send of document.querySelectorAll(".{CHAT_MESSAGE_BOX} button.submit-button")) {{
      const message = send.closest(".{CHAT_MESSAGE_BOX}");
      const box = message.querySelector("textarea");
      const attached = message.querySelector(".thumbnail-item") !== null;
      const disabled = !box || box.disabled || (!box.value.trim() && !attached);
      if (send.disabled !== disabled) send.disabled = disabled;
      const label = message.querySelector("[data-testid=block-info]");
      if (box && label && !box.hasAttribute("aria-label")) {{
        box.setAttribute("aria-label", label.textContent.trim());
      }}
    }}
    for (const title of document.querySelectorAll("[data-testid=toast-body] .toast-title-row > span")) {{
      const shown = title.firstChild;
      const kind = shown && shown.nodeType === Node.TEXT_NODE ? shown.data.trim() : "";
      if (toastTitles[kind]) shown.data = `${{toastTitles[kind]}} `;
    }}
    for (const image of document.querySelectorAll("button img:not([alt]), button img[alt='']")) {{
      const name = exampleNames[image.src.split("/").pop()];
      if (name) image.alt = name;
    }}
    for (const button of document.querySelectorAll("button[aria-label]")) {{
      const name = buttonNames[button.getAttribute("aria-label")];
      if (name && name !== button.getAttribute("aria-label")) button.setAttribute("aria-label", name);
    }}
  }};
  new MutationObserver(sync).observe(document.body, {{
    subtree: true, childList: true, attributes: true, attributeFilter: ["disabled", "src"],
  }});
  document.addEventListener("input", sync, true);
  document.addEventListener("keydown", (event) => {{
    const box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!(box instanceof HTMLTextAreaElement) || !box.closest("[role=log]")) return;
    let around = box.parentElement;
    while (around && !around.querySelector("button[aria-label=Submit]")) around = around.parentElement;
    if (!around) return;
    event.preventDefault();
    around.querySelector("button[aria-label=Submit]").click();
  }}, true);
  setTimeout(sync);
}}"""


def sign_in_button() -> None:
    """On a Space, a "Sign in with Hugging Face" button: visitors then run inference on their own
    token (the card sets `hf_oauth: true`). Elsewhere there is nobody to sign in, so no button."""
    if get_space() is not None:
        gr.LoginButton()


def show_note(key: str, **fields: Any) -> None:
    """A passing note as a toast to the visitor whose request is running, in their language; logged too.

    The notifier apps hand their backends (`common.backends.base.Notifier`).
    """
    log_note(key, **fields)
    gr.Info(html.escape(text(key, **fields), quote=False))


def visitor_token(oauth_token: gr.OAuthToken | None) -> str | None:
    """The signed-in visitor's token for this request, or None to use the configured token."""
    return oauth_token.token if oauth_token is not None else None


def model_line(model: str) -> None:
    """A line naming the model in use. Model ids are not translated, so they stay out of the
    translated descriptions, behind a sign every language reads."""
    gr.Markdown(f"🤖 `{model}`")


def slider(label: str | I18nData, allowed: Range, info: str | I18nData | None = None) -> gr.Slider:
    """A slider over exactly the range the server accepts for the same value."""
    return gr.Slider(
        label=label,
        minimum=allowed.minimum,
        maximum=allowed.maximum,
        value=allowed.default,
        step=allowed.step,
        info=info,
    )


def ready_to_serve(demo: gr.Blocks, settings: Settings, *tasks: Task) -> gr.Blocks:
    """Finish a built demo: size its queue for where its tasks run, let it hold only files it
    received (`common.components`), describe its API as its functions declare it
    (`common.api_info`), refuse malformed calls clearly (`common.calls`) and keep MCP tools to
    the arguments they declare and results an agent can read (`common.mcp_tools`). Returns the demo
    for chaining."""
    hold_only_received_files()
    publish_api_info(demo)
    refuse_malformed_calls(demo)
    adapt_mcp_tools()
    remote = all(settings.backend_for(task) == "remote" for task in tasks)
    # The queue runs at most `max_threads` events at once (40 by default), whatever the limits.
    own_limits = [fn.concurrency_limit for fn in demo.fns.values() if isinstance(fn.concurrency_limit, int)]
    demo.max_threads = max(demo.max_threads, REMOTE_CONCURRENCY, *own_limits)
    # Gradio rebuilds a summary of up to 10,000 past events after every event by default, which
    # costs about 11 ms per request once the history is full; an operator's own value wins.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", ANALYTICS_SUMMARY_EVERY)
    if not remote:
        from common.backends.local import preload

        preload(settings, tasks)  # on ZeroGPU only: before the GPU process is forked
    return demo.queue(
        default_concurrency_limit=REMOTE_CONCURRENCY if remote else local_concurrency(settings, tasks),
        max_size=QUEUE_MAX_SIZE,
    )


def local_concurrency(settings: Settings, tasks: Sequence[Task]) -> int:
    """Requests at once for events whose tasks run in-process: two batches of the smallest batch of
    the app's models (`common.backends.local`), which serialise them: one batch runs while the next
    fills. A model that takes one request at a time (a chat reply, an image on a CPU) takes one, and
    the others see their place in Gradio's queue."""
    from common.backends.local import requests_batched

    batch = min(requests_batched(task) for task in tasks if settings.backend_for(task) == "local")
    return 2 * batch if batch > 1 else 1


def chat_concurrency(settings: Settings) -> int:
    """How many chat replies run at once: one in-process; through providers, as many as other remote
    calls; for an endpoint URL, CHAT_CONCURRENCY, else the slots the server reports (llama.cpp's
    `/props`, asked now, once), else `ENDPOINT_CHAT_CONCURRENCY`."""
    endpoint_url = settings.chat.endpoint_url
    if settings.backend_for("chat") == "local":
        return LOCAL_CONCURRENCY
    if endpoint_url is None:
        return REMOTE_CONCURRENCY
    if settings.chat.concurrency:
        return settings.chat.concurrency
    slots = slots_reported(endpoint_url, settings.token)
    if slots is None:
        logger.warning(
            "%s did not report its slots (GET /props): %d chat replies run at once; set CHAT_CONCURRENCY "
            "to change that",
            endpoint_url,
            ENDPOINT_CHAT_CONCURRENCY,
        )
    return slots or ENDPOINT_CHAT_CONCURRENCY


def clear_errors_on(triggers: Sequence[Any], outputs: Sequence[gr.components.Component]) -> None:
    """Gradio shows an output's "Error" until an event writes to it again, so the pill of a failed
    attempt outlives the next one that succeeds elsewhere on the page. Any of `triggers` now writes
    nothing to `outputs` (their values stay), which clears their pills."""
    gr.on(
        list(triggers),
        lambda: tuple(gr.skip() for _ in outputs),
        outputs=list(outputs),
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )


def keep_chat_compact(chat: gr.ChatInterface) -> None:
    """Mark the parts of `chat` that `PAGE_CSS` and `PAGE_SCRIPT` arrange: its message box, and the
    column of saved conversations, which goes below the chat on a phone."""
    chat.textbox.elem_classes = [*(chat.textbox.elem_classes or []), CHAT_MESSAGE_BOX]
    if chat.save_history and chat.new_chat_button.parent is not None:
        chat.new_chat_button.parent.elem_classes = [CHAT_CONVERSATIONS]


def share_chat_queue(chat: gr.ChatInterface) -> None:
    """Put the events of `chat` that write a reply (send, retry, edit, an example) in the queue group
    `CHAT_REPLIES`, where the `/chat` endpoint is too: one limit for every reply the server writes.

    Those are the events `gr.ChatInterface` gave its own `concurrency_limit`; it offers no
    `concurrency_id`, so the group is set on them once the interface is built. An interface built
    inside a page registers its events on the page, so those are looked for there.
    """
    page = gr.context.Context.root_block or chat
    for block_fn in page.fns.values():
        if block_fn.concurrency_limit != "default":
            block_fn.concurrency_id = CHAT_REPLIES


def served_options(mcp_server: bool) -> dict[str, Any]:
    """What `launch()` and `mount()` both pass to Gradio.

    `show_error=False` keeps raw exception text (types, reprs, server paths) in the log: visitors read
    only the `gr.Error` messages this code writes for them. Every app has the same theme, style and
    page script (`THEME`, `PAGE_CSS`, `PAGE_SCRIPT`).
    """
    return {
        "i18n": i18n(),
        "max_file_size": MAX_UPLOAD_SIZE,
        "show_error": False,
        "mcp_server": mcp_server,
        "theme": THEME,
        "css": PAGE_CSS,
        "js": PAGE_SCRIPT,
    }


def mount(app: FastAPI, demo: gr.Blocks, path: str, mcp_server: bool = True) -> None:
    """Serve `demo` under `path` of `app` with exactly the protections `launch()` gives it.

    Gradio checks that a file named in a request is one a client uploaded only for a demo that has
    launched; a mounted demo never does, so without the flag a caller could name any server file in
    a chat history and download it. Allowed and blocked paths come from the variables `launch()` reads.
    """
    gr.mount_gradio_app(
        app,
        demo,
        path=path,
        # Without it, some file URLs the frontend builds (example previews) miss the app's path.
        root_path=path,
        allowed_paths=_paths_from_environment("GRADIO_ALLOWED_PATHS"),
        blocked_paths=_paths_from_environment("GRADIO_BLOCKED_PATHS"),
        **served_options(mcp_server),
    )
    demo.has_launched = True


def set_local_url(demo: gr.Blocks, url: str) -> None:
    """Tell a mounted demo the address it is served at, before it takes requests, as `launch()` does.

    Gradio's MCP server calls the demo's own API over HTTP. Without a local URL it takes the address
    from the first MCP request's Host header, so that caller could point it (and the token
    gradio_client sends from HF_TOKEN) at a server of their choosing, for every later tool call.
    """
    if demo.mcp_server_obj is not None:
        demo.mcp_server_obj._local_url = url


def _paths_from_environment(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def launch(demo: gr.Blocks, argv: Sequence[str] | None = None) -> None:
    """Launch one app from the command line: `python app.py [--share] [--no-mcp]`.

    The address comes from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, as Gradio reads them, and
    GRADIO_SHARE=True asks for a share link like `--share` does. Every documented endpoint is also
    an MCP tool, at `/gradio_api/mcp/`, unless `--no-mcp`.
    """
    parser = argparse.ArgumentParser(description=demo.title)
    parser.add_argument("--share", action="store_true", help="also serve the app on a public share link")
    parser.add_argument("--no-mcp", dest="mcp", action="store_false", help="do not serve MCP tools")
    args = parser.parse_args(argv)
    demo.launch(
        max_threads=demo.max_threads,
        share=args.share or None,
        prevent_thread_lock=True,
        **served_options(args.mcp),
    )
    if demo.share and not demo.share_url:
        print(f"No share link (is this machine offline?). The app is still served at {demo.local_url}")
    demo.block_thread()


def api_endpoint(
    fn: Callable[..., Any],
    inputs: Sequence[gr.components.Component],
    outputs: Sequence[gr.components.Component],
    api_name: str,
) -> None:
    """An endpoint for programs that no element of the page triggers.

    Its inputs and outputs are the page's own components, so it takes and returns exactly what
    they do (unlike `gr.api`, which passes raw JSON): a documented endpoint keeps its schema while
    the page runs a richer event of its own.
    """
    gr.on(triggers=[], fn=fn, inputs=list(inputs), outputs=list(outputs), api_name=api_name)


def json_api(
    fn: Callable[..., Any],
    api_name: str,
    result: str,
    concurrency_limit: int | Literal["default"] = "default",
    concurrency_id: str | None = None,
) -> None:
    """An endpoint that takes and returns JSON as `fn` declares it (`gr.api`), its result named
    `result` in the API description, queued as `gr.api` queues it."""
    gr.api(fn, api_name=api_name, concurrency_limit=concurrency_limit, concurrency_id=concurrency_id)
    root = gr.context.Context.root_block
    assert root is not None, "json_api is called while a gr.Blocks is being built"
    block_fn = block_fn_named(root, api_name)
    assert block_fn is not None, f"gr.api registered {api_name}"
    name_json_result(block_fn, result)
