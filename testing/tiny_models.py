"""Tiny random-weight stand-ins for the five Hub checkpoints the apps load in-process, and a chat
model that reasons before it answers.

The Hub is unreachable from tests, so each model is built from a config of the real architecture but with a
few thousand to ~100k parameters, paired with a tokenizer trained here on a short English corpus, and written
with `save_pretrained`. Loading code then runs unchanged with `from_pretrained(directory)`: only the weights
are nonsense. Everything is seeded, so the same build gives the same files and the same outputs.

Example:
    >>> models = build_tiny_models(tmp_path_factory.mktemp("models"))
    >>> AutoModelForSeq2SeqLM.from_pretrained(models.summarize)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from tokenizers.models import Model
from tokenizers.trainers import Trainer
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForTokenClassification,
    BertTokenizer,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipImageProcessorPil,
    BlipProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Tokenizer,
    RobertaTokenizer,
)

# Words the example inputs of the apps use, so that they tokenize into real pieces rather than bytes.
CORPUS = (
    "My name is Andrew and I work at DeepLearningAI in California.",
    "Hugging Face is a company based in New York and Paris; HuggingFace hosts models and datasets.",
    "Vienna is the capital of Austria, and Berlin is the capital of Germany.",
    "The Eiffel tower stands in Paris, France, and millions of people visit it every year.",
    "A dog is playing with a red ball in the park while a child watches from a bench.",
    "Two birds sit on a branch of a tall tree near the river on a sunny afternoon.",
    "A photograph of a cat sleeping on a sofa next to a window with white curtains.",
    "Sarah Johnson met the President of Microsoft in Seattle on Monday to discuss a new partnership.",
    "The United Nations announced a climate summit in Geneva, Switzerland, for next spring.",
    "Apple and Google reported strong earnings, and their shares rose in early trading on Wall Street.",
    "Summarize the following article in a few sentences, keeping the most important facts.",
    "The city council approved a plan to build new bike lanes and plant thousands of trees downtown.",
    "Scientists discovered a new species of frog in the rainforest of Brazil after years of research.",
    "The weather today is cloudy with a chance of rain in the evening and strong winds near the coast.",
    "You are a helpful assistant. Answer the question briefly and politely.",
    "Hello! How are you today? I am fine, thank you. What can I do for you?",
    "Please write a short poem about the ocean, the moon and the stars at night.",
    "An astronaut riding a horse on the moon, digital art, highly detailed, trending on artstation.",
    "A painting of a castle on a hill at sunset in the style of Van Gogh, oil on canvas.",
    "A bowl of fresh fruit with apples, oranges and bananas on a wooden kitchen table.",
    "Once upon a time, there was a little robot who wanted to learn how to paint beautiful pictures.",
    "The quick brown fox jumps over the lazy dog near the old farm house by the lake.",
    "Machine learning models learn patterns from data and make predictions about new examples.",
    "Large language models generate text one token at a time, conditioned on the prompt.",
    "We had coffee at a café in Zürich before flying to São Paulo.",
)

NER_LABELS = ("O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# A template that opens the reasoning block itself, as DeepSeek-R1's and Qwen3's thinking models' do.
THINKING_CHAT_TEMPLATE = CHAT_TEMPLATE.replace("assistant\\n' }}", "assistant\\n<think>\\n' }}")
# What the thinking model writes, whatever it is asked: its reasoning, the closing tag, its answer.
THINKING_REASONING = "The user is polite."
THINKING_ANSWER = "Hello! What can I do for you?"
SEED = 0

TokenizerT = TypeVar("TokenizerT", bound=PreTrainedTokenizerFast)


@dataclass(frozen=True)
class TinyModels:
    """Model directories, one per task, each loadable with `from_pretrained(path)`."""

    summarize: Path
    ner: Path
    caption: Path
    imagegen: Path
    chat: Path
    chat_thinking: Path
    """A chat model whose template opens a `<think>` block: it writes THINKING_REASONING, closes the
    block and answers THINKING_ANSWER."""


def build_tiny_models(root: Path) -> TinyModels:
    """Write the tiny models under `root` (created if missing) and return their directories."""
    names = ("summarize", "ner", "caption", "imagegen", "chat", "chat_thinking")
    tiny = TinyModels(*(root / name for name in names))
    _build_summarize(tiny.summarize)
    _build_ner(tiny.ner)
    _build_caption(tiny.caption)
    _build_imagegen(tiny.imagegen)
    _build_chat(tiny.chat)
    _build_chat_thinking(tiny.chat_thinking)
    return tiny


@contextmanager
def _seeded() -> Iterator[None]:
    """Seed weight initialisation without disturbing the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        yield


# The `tokenizers` trainers number word-final ("x</w>") and continuation ("##x") characters in hash-map
# order, which changes from run to run and with it how ties between equally frequent merges break.
# The tokenizer builders list those characters among the special tokens only to pin their ids, so that
# every build writes the same vocabulary.
def _bpe_tokenizer(
    cls: type[TokenizerT], special_tokens: list[str], vocab_size: int = 512, **kwargs: Any
) -> TokenizerT:
    """Train a byte-level BPE for `cls` and build `cls` on it; the full byte alphabet means no `<unk>`."""
    template = cls(**kwargs).backend_tokenizer
    suffix = template.model.end_of_word_suffix
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    word_ends = [char + suffix for char in alphabet] if suffix else []
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens + word_ends,
        initial_alphabet=alphabet,
        end_of_word_suffix=suffix,
        show_progress=False,
    )
    trained = _train(template, models.BPE(end_of_word_suffix=suffix), trainer)
    return cls(vocab=trained["vocab"], merges=[tuple(merge) for merge in trained["merges"]], **kwargs)


def _wordpiece_tokenizer(special_tokens: list[str], **kwargs: Any) -> BertTokenizer:
    """Train a cased WordPiece vocabulary small enough that rarer words split into `##` pieces."""
    template = BertTokenizer(do_lower_case=False).backend_tokenizer
    continuations = ["##" + char for char in sorted(set("".join(CORPUS)) - {" "})]
    trainer = trainers.WordPieceTrainer(
        vocab_size=600, special_tokens=special_tokens + continuations, show_progress=False
    )
    trained = _train(template, models.WordPiece(unk_token="[UNK]"), trainer)
    return BertTokenizer(vocab=trained["vocab"], do_lower_case=False, **kwargs)


def _train(template: Tokenizer, model: Model, trainer: Trainer) -> dict[str, Any]:
    """Train `model` on CORPUS, splitting text as `template` will, and return its JSON form.

    Splitting like the tokenizer class that is saved keeps the learned pieces matching the text it will
    see once loaded again.
    """
    trainee = Tokenizer(model)
    trainee.normalizer = template.normalizer
    trainee.pre_tokenizer = template.pre_tokenizer
    trainee.train_from_iterator(CORPUS, trainer)
    return json.loads(trainee.to_str())["model"]


def _build_summarize(directory: Path) -> None:
    """A BART seq2seq like sshleifer/distilbart-cnn-12-6, generating greedily to stay fast."""
    tokenizer = _bpe_tokenizer(
        RobertaTokenizer, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], model_max_length=1024
    )
    bos, pad, eos = tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=1024,
        init_std=0.3,  # Wide enough for the encoder to sway the decoder: summaries follow the input.
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_eos_token_id=eos,
    )
    with _seeded():
        model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        max_length=64,
        min_length=8,
        num_beams=1,
        no_repeat_ngram_size=3,
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_bos_token_id=bos,
        forced_eos_token_id=eos,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _build_ner(directory: Path) -> None:
    """A BERT token classifier with dslim/bert-base-NER's labels, biased so a sentence has some entities."""
    tokenizer = _wordpiece_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], model_max_length=512)
    config = ner_config(tokenizer, len(tokenizer), hidden_size=16, layers=1, heads=2, intermediate_size=32)
    with _seeded():
        model = BertForTokenClassification(config)
        # Untrained logits are nearly equal; spread them per token and favour "O", so that a sentence
        # yields a mix of "O" and entity tokens instead of an arbitrary, near-tied label everywhere.
        torch.nn.init.normal_(model.classifier.weight, std=0.25)
        torch.nn.init.zeros_(model.classifier.bias)
        model.classifier.bias.data[0] = 2.5
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def ner_config(
    tokenizer: Any, vocab_size: int, *, hidden_size: int, layers: int, heads: int, intermediate_size: int
) -> BertConfig:
    """dslim/bert-base-NER's architecture and its nine labels, at any size."""
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        id2label=dict(enumerate(NER_LABELS)),
        label2id={label: index for index, label in enumerate(NER_LABELS)},
    )


def _build_caption(directory: Path) -> None:
    """A BLIP captioner like Salesforce/blip-image-captioning-base, on 32x32 images in 8x8 patches."""
    tokenizer = _wordpiece_tokenizer(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"], bos_token="[DEC]", model_max_length=512
    )
    image_size = 32
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer,
    )
    # Both towers start wider than BLIP's defaults (1e-10 for vision), or every image got the same caption.
    config = BlipConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 16,
            "encoder_hidden_size": 16,
            "intermediate_size": 32,
            "projection_dim": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 512,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "sep_token_id": tokenizer.sep_token_id,
            "initializer_range": 0.2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "projection_dim": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 8,
            "initializer_range": 0.2,
        },
        projection_dim=16,
        image_text_hidden_size=16,
    )
    with _seeded():
        model = BlipForConditionalGeneration(config)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)


def _build_imagegen(directory: Path) -> None:
    """A Stable Diffusion 1.5 layout: VAE downsampling by 8, CLIP text encoder, PNDM scheduler."""
    tokenizer = _bpe_tokenizer(
        CLIPTokenizer, ["<|startoftext|>", "<|endoftext|>"], vocab_size=768, model_max_length=77
    )
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        projection_dim=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with _seeded():
        text_encoder = CLIPTextModel(text_config)
        # The pipeline's vae_scale_factor is 8, so the UNet sees 8x8 latents for a 64x64 image;
        # sample_size 8 makes 64x64 the pipeline's default size.
        vae = sd15_vae(block_out_channels=(4, 4, 8, 8), layers_per_block=1, norm_num_groups=2, sample_size=64)
        unet = UNet2DConditionModel(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            cross_attention_dim=text_config.hidden_size,
            attention_head_dim=4,
        )
    scheduler = PNDMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(directory)


def sd15_vae(
    block_out_channels: tuple[int, int, int, int],
    layers_per_block: int,
    norm_num_groups: int,
    sample_size: int,
) -> AutoencoderKL:
    """Stable Diffusion 1.5's VAE layout at any width: four blocks, so latents are 1/8 of the image."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=block_out_channels,
        layers_per_block=layers_per_block,
        latent_channels=4,
        norm_num_groups=norm_num_groups,
        sample_size=sample_size,
    )


def _chat_tokenizer(chat_template: str) -> Qwen2Tokenizer:
    """A ChatML tokenizer and template with special tokens, as Qwen2.5 Instruct uses."""
    return _bpe_tokenizer(
        Qwen2Tokenizer,
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=["<|im_start|>"],
        chat_template=chat_template,
        model_max_length=2048,
    )


def _chat_config(tokenizer: Qwen2Tokenizer, hidden_size: int, tie_word_embeddings: bool) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _build_chat(directory: Path) -> None:
    """A Llama-architecture causal LM with a ChatML template and special tokens, as Qwen2.5 Instruct uses."""
    tokenizer = _chat_tokenizer(CHAT_TEMPLATE)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    config = _chat_config(tokenizer, hidden_size=16, tie_word_embeddings=True)
    with _seeded():
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        do_sample=True, temperature=0.7, top_p=0.8, eos_token_id=[eos, pad], pad_token_id=pad
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _build_chat_thinking(directory: Path) -> None:
    """A Llama-architecture chat model that reasons, then answers, the same words every time.

    Its template opens `<think>` and its tokenizer has `<think>` and `</think>` as tokens of their own
    (not special: decoding keeps them), as Qwen3's has. Random weights would never close the block,
    so the weights are set instead: the layer adds nothing to the residual stream, which leaves the
    next token a function of the last one (a bigram model). Each token of the reply gets an
    embedding direction of its own that the output layer maps to the token after it; every other
    token, the prompt's last among them, shares a direction that maps to the reply's first token.
    The margin is wide enough that sampling at any offered temperature picks the same token.
    """
    tokenizer = _chat_tokenizer(THINKING_CHAT_TEMPLATE)
    tokenizer.add_tokens(["<think>", "</think>"])
    close = tokenizer.convert_tokens_to_ids("</think>")
    reply = [
        *tokenizer(THINKING_REASONING)["input_ids"],
        close,
        *tokenizer(THINKING_ANSWER)["input_ids"],
        tokenizer.eos_token_id,
    ]
    hidden_size = 32
    assert len(set(reply)) == len(reply) <= hidden_size, "a bigram model needs each token once"
    config = _chat_config(tokenizer, hidden_size=hidden_size, tie_word_embeddings=False)
    with _seeded():
        model = LlamaForCausalLM(config)
    start = hidden_size - 1
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = model.model.embed_tokens.weight
        embeddings.zero_()
        embeddings[:, start] = 1.0
        output = model.lm_head.weight
        output.zero_()
        output[reply[0], start] = 10.0
        for direction, (token, following) in enumerate(itertools.pairwise(reply)):
            embeddings[token] = 0.0
            embeddings[token, direction] = 1.0
            output[following, direction] = 10.0
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    model.generation_config = GenerationConfig(
        do_sample=True, temperature=0.7, top_p=0.8, eos_token_id=[eos, pad], pad_token_id=pad
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
