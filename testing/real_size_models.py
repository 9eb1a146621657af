"""Random-weight models as large as the real checkpoints, so that latency and memory are the real ones.

Each copies the architecture and size of the checkpoint in REAL_SIZE_SHAPES and borrows its tokenizer
from the tiny model of the same task (the outputs are noise either way). Building the five takes a few
minutes on two CPU cores; `build_real_size` skips a model already built in its directory.

Example:
    >>> tiny = build_tiny_models(root / "tiny")
    >>> build_real_size("summarize", tiny, root / "real-size" / "summarize")
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from diffusers import PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from transformers import (
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertForTokenClassification,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipImageProcessorPil,
    BlipProcessor,
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPTextConfig,
    CLIPTextModel,
    GenerationConfig,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.initialization import no_init_weights

from common.settings import Task
from testing.tiny_models import TinyModels, ner_config, sd15_vae

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

SEED = 1234
# The checkpoints whose architecture and size the real-size models copy.
REAL_SIZE_SHAPES: dict[Task, str] = {
    "summarize": "sshleifer/distilbart-cnn-12-6",
    "ner": "dslim/bert-base-NER",
    "caption": "Salesforce/blip-image-captioning-base",
    "imagegen": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "chat": "Qwen/Qwen2.5-0.5B-Instruct",
}
# A prime, so that neither rows nor layers line up with the pool's period.
WEIGHT_POOL_SIZE = 1_000_003
WEIGHT_STD = 0.02


def build_real_size(task: Task, tiny: TinyModels, directory: Path) -> Path:
    """Build the task's real-size model unless a finished build is already there (`--models-dir`)."""
    finished = directory / ".built"
    if not finished.exists():
        shutil.rmtree(directory, ignore_errors=True)
        print(f"Building the real-size {task} model in {directory} ...", flush=True)
        REAL_SIZE_BUILDERS[task](tiny, directory)
        finished.touch()
    return directory


def build_summarizer(tiny: TinyModels, directory: Path) -> None:
    """sshleifer/distilbart-cnn-12-6: BART-large, 12 encoder and 6 decoder layers, 4-beam search."""
    tokenizer = AutoTokenizer.from_pretrained(tiny.summarize)
    token_ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "decoder_start_token_id": tokenizer.eos_token_id,
        "forced_bos_token_id": tokenizer.bos_token_id,
        "forced_eos_token_id": tokenizer.eos_token_id,
    }
    config = BartConfig(
        vocab_size=50264,
        d_model=1024,
        encoder_layers=12,
        decoder_layers=6,
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_dim=4096,
        decoder_ffn_dim=4096,
        max_position_embeddings=1024,
        activation_function="gelu",
        **token_ids,
    )
    model = random_model(lambda: BartForConditionalGeneration(config))
    model.generation_config = GenerationConfig(
        num_beams=4,
        length_penalty=2.0,
        max_length=142,
        min_length=56,
        no_repeat_ngram_size=3,
        early_stopping=True,
        **token_ids,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    pad_vocabulary(directory, config.vocab_size)


def build_token_classifier(tiny: TinyModels, directory: Path) -> None:
    """dslim/bert-base-NER: BERT-base, cased vocabulary, the nine CoNLL-2003 labels."""
    tokenizer = AutoTokenizer.from_pretrained(tiny.ner)
    config = ner_config(tokenizer, 28996, hidden_size=768, layers=12, heads=12, intermediate_size=3072)
    random_model(lambda: BertForTokenClassification(config)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def build_captioner(tiny: TinyModels, directory: Path) -> None:
    """Salesforce/blip-image-captioning-base: a ViT-B/16 on 384x384 images and a BERT-base decoder."""
    tokenizer = AutoTokenizer.from_pretrained(tiny.caption)
    config = BlipConfig(
        text_config={
            "vocab_size": 30524,
            "hidden_size": 768,
            "encoder_hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "max_position_embeddings": 512,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "sep_token_id": tokenizer.sep_token_id,
        },
        vision_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "image_size": 384,
            "patch_size": 16,
        },
        projection_dim=512,
        image_text_hidden_size=256,
    )
    random_model(lambda: BlipForConditionalGeneration(config)).save_pretrained(directory)
    image_processor = BlipImageProcessorPil(size={"height": 384, "width": 384})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    pad_vocabulary(directory, config.text_config.vocab_size)


def build_image_generator(tiny: TinyModels, directory: Path) -> None:
    """stable-diffusion-v1-5: its UNet, VAE, CLIP ViT-L/14 text encoder, scheduler and safety checker."""
    tokenizer = AutoTokenizer.from_pretrained(tiny.imagegen / "tokenizer")
    StableDiffusionPipeline(
        vae=random_model(
            lambda: sd15_vae(
                block_out_channels=(128, 256, 512, 512),
                layers_per_block=2,
                norm_num_groups=32,
                sample_size=512,
            )
        ),
        text_encoder=random_model(lambda: _sd_text_encoder(tokenizer)),
        tokenizer=tokenizer,
        unet=random_model(_sd_unet),
        scheduler=PNDMScheduler.from_pretrained(tiny.imagegen, subfolder="scheduler"),  # SD 1.5's settings
        safety_checker=random_model(_sd_safety_checker),
        feature_extractor=CLIPImageProcessorPil(),
        requires_safety_checker=True,
    ).save_pretrained(directory)


def _sd_text_encoder(tokenizer: Any) -> CLIPTextModel:
    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=768,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )


def _sd_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
        cross_attention_dim=768,
        attention_head_dim=8,
        norm_num_groups=32,
    )


def _sd_safety_checker() -> StableDiffusionSafetyChecker:
    """A CLIP ViT-L/14 image tower: SD 1.5 runs it on every image it makes."""
    vision = {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 224,
        "patch_size": 14,
    }
    return StableDiffusionSafetyChecker(CLIPConfig(vision_config=vision, projection_dim=768))


def build_chat_model(tiny: TinyModels, directory: Path) -> None:
    """Qwen/Qwen2.5-0.5B-Instruct's shape; with no end-of-reply token every reply runs to max_tokens."""
    tokenizer = AutoTokenizer.from_pretrained(tiny.chat)
    config = Qwen2Config(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = random_model(lambda: Qwen2ForCausalLM(config))
    model.generation_config = GenerationConfig(
        do_sample=True,
        temperature=0.7,
        top_p=0.8,
        top_k=20,
        repetition_penalty=1.1,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    pad_vocabulary(directory, config.vocab_size)


def random_model(build: Callable[[], ModuleT]) -> ModuleT:
    """A model with random weights, built in seconds.

    torch's initialisation draws every weight on one core (~80 million a second here): minutes for
    the 2.5 billion weights of the five models. Skipping it and tiling one pool of Gaussian samples
    over all the weights gives weights just as useless, as fast as memory copies.
    """
    with no_init_weights():
        model = build()
    if isinstance(model, PreTrainedModel):
        model.tie_weights()  # skipped with the initialisation
    _fill_from_pool(model)
    return model


def _fill_from_pool(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(SEED)
    pool = torch.randn(2 * WEIGHT_POOL_SIZE, generator=generator) * WEIGHT_STD  # any window fits
    offset = 0
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            flat = parameter.view(-1)
            if parameter.ndim == 1:  # norm scales start at 1, biases at 0
                flat.fill_(1.0 if name.endswith("weight") else 0.0)
                continue
            for start in range(0, flat.numel(), WEIGHT_POOL_SIZE):
                chunk = flat[start : start + WEIGHT_POOL_SIZE]
                chunk.copy_(pool[offset : offset + chunk.numel()])
                offset = (offset + chunk.numel()) % WEIGHT_POOL_SIZE


def pad_vocabulary(directory: Path, size: int) -> None:
    """Give every id the model can emit a token of its own in the saved tokenizer.

    The tiny models' tokenizers know a few hundred pieces; an id beyond them decodes to nothing, and
    an empty summary, caption or reply is an error in the apps. The new tokens ("w1234") serve
    decoding only: byte-level BPE has no merges that build them, and the inputs never contain them.
    """
    path = directory / "tokenizer.json"
    spec = json.loads(path.read_text())
    vocabulary: dict[str, int] = spec["model"]["vocab"]
    taken = set(vocabulary.values()) | {token["id"] for token in spec["added_tokens"]}
    space = "Ġ" if spec["model"]["type"] == "BPE" else ""  # byte-level BPE spells a leading space Ġ
    for index in range(size):
        if index not in taken:
            vocabulary.setdefault(f"{space}w{index}", index)
    path.write_text(json.dumps(spec, ensure_ascii=False))


REAL_SIZE_BUILDERS: dict[Task, Callable[[TinyModels, Path], None]] = {
    "summarize": build_summarizer,
    "ner": build_token_classifier,
    "caption": build_captioner,
    "imagegen": build_image_generator,
    "chat": build_chat_model,
}
