"""Shared core of the gradio-genai-spaces apps: settings, backends, task logic and helpers.

Apps import from here and contain only UI wiring. Each space folder holds a vendored copy of this
package (written by `scripts/sync_common.py`), so a folder deploys to Spaces as it stands.
"""
