"""Failures described for a person: what happened, where, and what to do next.

Backends translate their library's exceptions into these types; the task layer turns them into
`gr.Error`, so a visitor never sees a traceback or Gradio's generic "upstream app" message.
"""

from __future__ import annotations

import html
import logging

import gradio as gr

logger = logging.getLogger("common")


class InferenceError(Exception):
    """Base of every backend failure. `where` names the backend (never with credentials)."""

    retryable = False

    def __init__(self, where: str, detail: str = "") -> None:
        self.where = where
        self.detail = detail
        super().__init__(self.describe())

    def describe(self) -> str:
        raise NotImplementedError


class ModelLoadingError(InferenceError):
    retryable = True

    def __init__(self, where: str, estimated_time: float | None = None) -> None:
        self.estimated_time = estimated_time
        super().__init__(where)

    def describe(self) -> str:
        eta = f" (about {self.estimated_time:.0f} s)" if self.estimated_time else ""
        return f"The model at {self.where} is still loading{eta}. Wait a moment and try again."


class RateLimitError(InferenceError):
    def describe(self) -> str:
        return (
            f"{self.where} is rate-limiting requests (HTTP 429). Wait a minute and try again; "
            "a Hugging Face token (HF_TOKEN) raises the limit, and a dedicated endpoint removes it."
        )


class AuthenticationError(InferenceError):
    def describe(self) -> str:
        return (
            f"{self.where} refused the request ({self.detail}). Set HF_TOKEN to a valid token from "
            "https://huggingface.co/settings/tokens with permission to call Inference Providers; "
            "for a gated model, accept its licence on the model page first."
        )


class ModelNotFoundError(InferenceError):
    def describe(self) -> str:
        return (
            f"{self.where} was not found ({self.detail}). Check the model id or endpoint URL "
            "(the *_MODEL and HF_API_*_BASE settings)."
        )


class UnsupportedModelError(InferenceError):
    def describe(self) -> str:
        return (
            f"{self.where} cannot serve this task ({self.detail}). Choose another model or provider "
            "(the *_MODEL and HF_PROVIDER settings)."
        )


class InputRejectedError(InferenceError):
    def describe(self) -> str:
        return f"{self.where} rejected the input ({self.detail}). Shorten or change the input and try again."


class BackendFailureError(InferenceError):
    retryable = True

    def describe(self) -> str:
        return f"{self.where} failed ({self.detail}). This is on the server's side: try again in a moment."


class BackendTimeoutError(InferenceError):
    def __init__(self, where: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(where)

    def describe(self) -> str:
        return (
            f"{self.where} did not answer within {self.timeout:g} s. Try again; if the model is "
            "slow on long inputs, raise INFERENCE_TIMEOUT."
        )


class BackendUnreachableError(InferenceError):
    def describe(self) -> str:
        return (
            f"Could not connect to {self.where} ({self.detail}). Check that the server is running "
            "and that the URL is right."
        )


class MalformedReplyError(InferenceError):
    def describe(self) -> str:
        return (
            f"{self.where} sent a reply this app cannot read ({self.detail}). Check that the URL "
            "points at an endpoint serving this task."
        )


class StreamInterruptedError(InferenceError):
    """The reply stream ended early; whatever arrived before the cut is kept by the caller."""

    def describe(self) -> str:
        return f"The connection to {self.where} was cut before the reply finished ({self.detail})."


class LocalRuntimeError(InferenceError):
    """The in-process backend cannot run: runtime not installed, model unavailable, out of memory."""

    def describe(self) -> str:
        return f"The local model {self.where} cannot run: {self.detail}"


def user_error(message: str) -> gr.Error:
    """An error caused by the input: shown to the visitor, not logged as a server fault."""
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def notify(message: str) -> None:
    """A passing note to the visitor whose request is running (a toast in the UI)."""
    logger.info(message)
    gr.Info(html.escape(message, quote=False))


def report(error: InferenceError) -> None:
    """One log line per backend failure: its type and message, which never hold a token."""
    logger.warning("%s: %s", type(error).__name__, error)


def backend_error(error: InferenceError) -> gr.Error:
    """Report a backend failure and return the error to show the visitor."""
    report(error)
    return gr.Error(html.escape(str(error), quote=False), print_exception=False)
