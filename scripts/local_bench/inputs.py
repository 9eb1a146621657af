"""The inputs, the same for every profile and for both ways of calling.

Summaries and replies are kept short, and images small and few-stepped: with real-size models on a
small CPU a reply or an image costs seconds to tens of seconds.
"""

from __future__ import annotations

from pathlib import Path

from common.images import EncodedImage, read_image_file

ROOT = Path(__file__).resolve().parents[2]
SEED = 1234
ARTICLE = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
SUMMARY_MIN_LENGTH, SUMMARY_MAX_LENGTH = 30, 60
SENTENCE = "My name is Andrew, I'm building DeepLearningAI and I live in California"
PICTURE = ROOT / "spaces/caption/examples/lion.jpg"
UPLOAD: EncodedImage = read_image_file(PICTURE)  # what the app's task layer hands the backend
PROMPT = "a mecha robot in a favela"
NEGATIVE_PROMPT = "blurry, low quality"
IMAGE_STEPS, IMAGE_GUIDANCE, IMAGE_SIZE = 2, 7.0, 256
CHAT_MESSAGE = "Explain recursion to a ten-year-old."
CHAT_SYSTEM_MESSAGE = "You are a helpful assistant. Answer briefly."
CHAT_TEMPERATURE, CHAT_MAX_TOKENS = 0.7, 32
