"""The tiny models load and run through the same calls the apps make on the real Hub checkpoints."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoPipelineForText2Image, DiffusionPipeline, StableDiffusionPipeline
from PIL import Image
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoProcessor,
    AutoTokenizer,
    BlipForConditionalGeneration,
    TextIteratorStreamer,
    pipeline,
)

from testing.tiny_models import (
    NER_LABELS,
    THINKING_ANSWER,
    THINKING_REASONING,
    TinyModels,
    build_tiny_models,
)

pytestmark = pytest.mark.local

SENTENCE = "My name is Andrew and I work at DeepLearningAI in California, near the Eiffel tower in Vienna."


@pytest.fixture
def tiny(tiny_models: TinyModels, hub_offline: None) -> TinyModels:
    return tiny_models


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_build_is_fast_and_reproducible(tiny: TinyModels, tmp_path: Path) -> None:
    started = time.perf_counter()
    again = build_tiny_models(tmp_path)
    assert time.perf_counter() - started < 10

    for name in ("summarize", "ner", "caption", "imagegen", "chat", "chat_thinking"):
        files = _files(getattr(again, name))
        assert any(file.endswith(".safetensors") for file in files), name
        assert not any(file.endswith(".bin") for file in files), name
        assert files == _files(getattr(tiny, name)), name


def test_summarize_generates_text_within_length_bounds(tiny: TinyModels) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny.summarize)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny.summarize)
    assert tokenizer.model_max_length == 1024

    def summarize(text: str) -> str:
        inputs = tokenizer(text, return_tensors="pt", truncation=True)
        assert inputs["input_ids"].shape[-1] <= 1024
        output = model.generate(**inputs, min_length=10, max_length=20)
        assert 10 <= output.shape[-1] <= 20
        return tokenizer.decode(output[0], skip_special_tokens=True)

    summary = summarize(" ".join([SENTENCE] * 100))

    assert summary.strip()
    assert summarize("The quick brown fox jumps over the lazy dog.") != summary


def test_ner_finds_some_entities_with_offsets_into_the_input(tiny: TinyModels) -> None:
    ner = pipeline("token-classification", model=str(tiny.ner), aggregation_strategy="simple")
    assert ner.model.config.id2label == dict(enumerate(NER_LABELS))
    assert ner.tokenizer.tokenize("DeepLearningAI")[1].startswith("##")

    entities = ner(SENTENCE)

    assert entities
    assert {entity["entity_group"] for entity in entities} <= {"PER", "ORG", "LOC", "MISC"}
    for entity in entities:
        assert 0 <= entity["start"] < entity["end"] <= len(SENTENCE)
        assert isinstance(entity["score"], np.float32)
        assert 0 < entity["score"] <= 1
    tagged = {index for entity in entities for index in range(entity["start"], entity["end"])}
    assert any(index not in tagged for index, char in enumerate(SENTENCE) if char.isalpha()), "no O"


def test_caption_generates_text_for_an_image(tiny: TinyModels) -> None:
    processor = AutoProcessor.from_pretrained(tiny.caption)
    model = BlipForConditionalGeneration.from_pretrained(tiny.caption)

    def caption(image: Image.Image) -> str:
        inputs = processor(images=image, return_tensors="pt")
        assert inputs["pixel_values"].shape == (1, 3, 32, 32)
        output = model.generate(**inputs, max_new_tokens=6)
        return processor.decode(output[0], skip_special_tokens=True)

    red = caption(Image.new("RGB", (120, 90), (200, 40, 40)))

    assert red.strip()
    assert caption(Image.new("RGB", (50, 50), (20, 20, 240))) != red


def test_caption_pipeline_needs_a_text_prompt(tiny: TinyModels) -> None:
    captioner = pipeline("image-text-to-text", model=str(tiny.caption))
    image = Image.new("RGB", (64, 64), (40, 200, 40))

    [result] = captioner(image, text="a photography of", max_new_tokens=4)
    assert result["generated_text"].startswith("a photography of")
    with pytest.raises(ValueError, match="must provide text"):
        captioner(image, max_new_tokens=4)


@pytest.mark.parametrize("loader", [StableDiffusionPipeline, DiffusionPipeline, AutoPipelineForText2Image])
def test_imagegen_loads_as_stable_diffusion(tiny: TinyModels, loader: type[DiffusionPipeline]) -> None:
    pipe = loader.from_pretrained(tiny.imagegen)
    assert isinstance(pipe, StableDiffusionPipeline)
    assert pipe.vae_scale_factor == 8


def test_imagegen_is_reproducible_and_reports_steps(tiny: TinyModels) -> None:
    pipe = StableDiffusionPipeline.from_pretrained(tiny.imagegen)
    pipe.set_progress_bar_config(disable=True)
    steps: list[int] = []

    def on_step_end(
        pipe: StableDiffusionPipeline, step: int, timestep: torch.Tensor, tensors: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        steps.append(step)
        return tensors

    def generate(seed: int, **kwargs: object) -> Image.Image:
        return pipe(
            "a dog in the park",
            negative_prompt="blurry",
            num_inference_steps=2,
            guidance_scale=7.0,
            width=64,
            height=64,
            generator=torch.Generator().manual_seed(seed),
            **kwargs,
        ).images[0]

    first = generate(1, callback_on_step_end=on_step_end)

    assert first.size == (64, 64)
    # SD 1.5's PNDM scheduler repeats its first timestep: 2 inference steps run 3 UNet steps.
    assert steps == list(range(pipe.num_timesteps)) == [0, 1, 2]
    assert generate(1).tobytes() == first.tobytes()
    assert generate(2).tobytes() != first.tobytes()


def test_imagegen_accepts_any_multiple_of_8(tiny: TinyModels) -> None:
    pipe = StableDiffusionPipeline.from_pretrained(tiny.imagegen)
    pipe.set_progress_bar_config(disable=True)

    image = pipe("a castle", num_inference_steps=1, width=72, height=40).images[0]

    assert image.size == (72, 40)


@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_the_thinking_chat_model_reasons_then_answers_inside_the_block_its_template_opened(
    tiny: TinyModels, temperature: float
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny.chat_thinking)
    model = AutoModelForCausalLM.from_pretrained(tiny.chat_thinking)
    messages = [{"role": "user", "content": "Hello! How are you today?"}]
    assert tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False).endswith(
        "<|im_start|>assistant\n<think>\n"
    )

    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    output = model.generate(**inputs, max_new_tokens=64, do_sample=True, temperature=temperature)

    written = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert written == f"{THINKING_REASONING}</think>{THINKING_ANSWER}"


def test_chat_streams_several_pieces(tiny: TinyModels) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny.chat)
    model = AutoModelForCausalLM.from_pretrained(tiny.chat)
    assert model.config.max_position_embeddings == 2048
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello! How are you today?"},
        {"role": "assistant", "content": "I am fine, thank you."},
        {"role": "user", "content": "Please write a short poem."},
    ]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")

    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    assert tokenizer.convert_tokens_to_ids("<|im_start|>") in inputs["input_ids"][0].tolist()
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=10)
    torch.manual_seed(0)
    generation = threading.Thread(
        target=model.generate,
        kwargs={**inputs, "streamer": streamer, "max_new_tokens": 8, "do_sample": True, "temperature": 0.7},
    )
    generation.start()
    pieces = [piece for piece in streamer if piece]
    generation.join()

    assert len(pieces) > 1
