"""What each app does, independent of its UI: validate the input, call the backend, shape the result.

Each task is a small class bound to one configuration; its public async methods are what the apps
wire to Gradio events, so their signatures and docstrings are the programmatic API (and the MCP
tool descriptions).
"""
