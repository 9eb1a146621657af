"""The local-backend benchmark: each task through its app and straight on its model (see bench_local.py)."""
