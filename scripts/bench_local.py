"""Benchmark the local backend: load time, warm latency through each app against the bare model, memory.

    python scripts/bench_local.py [--tiny | --realistic] [--models-dir DIR] [--runs K] [--write-docs]

Models: by default the ones the configuration names (the Hub ids unless *_MODEL is set); `--tiny`
builds the test suite's tiny models; `--realistic` builds random-weight models as large as the real
checkpoints, so that latency and memory are the real ones while the outputs are noise.

Each task runs in its own process, serving only its app: the first call through the app loads the
model, then app calls (over Gradio's HTTP API, as a browser or curl makes them) alternate with
direct calls of the same model with the same inputs, as `common/backends/local.py` makes them, so
that a busy machine slows both alike. The difference is what Gradio and the task layer cost.
A `--realistic` run, building the models included, takes about 9 minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
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
    TextIteratorStreamer,
)
from transformers.initialization import no_init_weights  # noqa: E402

from common.backends import (  # noqa: E402
    chat_backend,
    image_to_text_backend,
    summarization_backend,
    text_to_image_backend,
    token_classification_backend,
)
from common.backends.local import CAPTION_MAX_TOKENS, MODELS, LocalBackend  # noqa: E402
from common.images import EncodedImage, read_image_file  # noqa: E402
from common.settings import MODEL_VARIABLES, TASKS, Settings, Task, load_settings  # noqa: E402
from testing.apps import running_app, settings_from  # noqa: E402

# diffusers and the tiny-model builders are imported only where models are built, so that a worker
# holds in memory what a process serving its app would, and no more.
if TYPE_CHECKING:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    from testing.tiny_models import TinyModels

Profile = Literal["configured", "tiny", "realistic"]
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

DOCS_PAGE = ROOT / "docs" / "benchmarks-local.md"
OVERHEAD_TARGET = 5.0  # percent of the direct call's latency
TINY_RUNS = 20
# Warm calls per task and way with real-size models: a reply or an image costs seconds to tens of
# seconds on a small CPU, so the slow tasks get fewer runs to keep the whole benchmark within minutes.
REAL_SIZE_RUNS: dict[Task, int] = {"summarize": 3, "ner": 20, "caption": 5, "imagegen": 2, "chat": 3}
WORKER_TIMEOUT = 30 * 60
SEED = 1234
MiB = 2**20

# The inputs, the same for every profile and for both ways of calling. Summaries and replies are
# kept short, and images small and few-stepped, for the same reason as REAL_SIZE_RUNS.
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


class AppCallError(Exception):
    """The app answered a call with an error event; the message is the one a visitor would see."""


class GradioRest:
    """An app's API called as curl or a browser does: POST /gradio_api/call/<name>, then its event stream.

    Not gradio_client: it looks for new messages every 50 ms, which adds about 150 ms to every
    call; the bare protocol leaves only what the app itself costs.
    """

    def __init__(self, client: Client, http: httpx.Client) -> None:
        self.url = client.src.rstrip("/")
        self.http = http
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        self.parameters = {name: endpoint["parameters"] for name, endpoint in endpoints.items()}

    def call(self, api_name: str, **arguments: Any) -> list[Any]:
        """The endpoint's outputs (the last ones, for a streaming endpoint).

        Arguments go by name, and parameters left out take the app's defaults, as with gradio_client.
        """
        data = self._values(f"/{api_name}", arguments)
        posted = self.http.post(f"{self.url}/gradio_api/call/{api_name}", json={"data": data})
        posted.raise_for_status()
        event = ""
        with self.http.stream("GET", f"{posted.url}/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event in ("complete", "error"):
                    payload = json.loads(line.removeprefix("data: "))
                    if event == "error":
                        raise AppCallError(payload.get("error") if isinstance(payload, dict) else payload)
                    return payload
        raise AppCallError(f"the event stream of /{api_name} ended without a result")

    def _values(self, endpoint: str, arguments: dict[str, Any]) -> list[Any]:
        parameters = self.parameters[endpoint]
        unknown = arguments.keys() - {parameter["parameter_name"] for parameter in parameters}
        if unknown:
            raise TypeError(f"{endpoint} has no parameter {', '.join(sorted(unknown))}")
        values = []
        for parameter in parameters:
            name = parameter["parameter_name"]
            if name not in arguments and not parameter["parameter_has_default"]:
                raise TypeError(f"{endpoint} needs a value for {name}")
            values.append(arguments.get(name, parameter["parameter_default"]))
        return values

    def upload(self, path: Path) -> dict[str, Any]:
        """Upload a file for a file input, as the browser does before calling."""
        with path.open("rb") as file:
            response = self.http.post(f"{self.url}/gradio_api/upload", files={"files": file})
        response.raise_for_status()
        return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def download(self, file: dict[str, Any]) -> bytes:
        response = self.http.get(file["url"])
        response.raise_for_status()
        return response.content


# What each task runs: the call through its app, and the same work done on the model directly.


def summarize_via_app(app: GradioRest) -> str:
    summary = app.call(
        "summarize", text=ARTICLE, min_length=SUMMARY_MIN_LENGTH, max_length=SUMMARY_MAX_LENGTH
    )
    return summary[0]


def summarize_directly(loaded: tuple[Any, Any]) -> str:
    tokenizer, model = loaded
    inputs = tokenizer(ARTICLE, return_tensors="pt", truncation=True).to(model.device)
    with torch.inference_mode():
        output = model.generate(**inputs, min_length=SUMMARY_MIN_LENGTH, max_length=SUMMARY_MAX_LENGTH)
    return tokenizer.decode(output[0], skip_special_tokens=True).strip()


def describe_summarize(loaded: tuple[Any, Any]) -> str:
    tokens = len(loaded[0](ARTICLE, truncation=True)["input_ids"])
    return (
        f"`{ARTICLE[:24]}…` ({len(ARTICLE)} characters, {tokens} tokens), "
        f"min_length {SUMMARY_MIN_LENGTH}, max_length {SUMMARY_MAX_LENGTH}"
    )


def ner_via_app(app: GradioRest) -> Any:
    return app.call("ner", text=SENTENCE)[0]


def ner_directly(classifier: Any) -> list[dict[str, Any]]:
    return [{**entity, "score": float(entity["score"])} for entity in classifier(SENTENCE)]


def describe_ner(classifier: Any) -> str:
    tokens = len(classifier.tokenizer(SENTENCE)["input_ids"])
    return f'"{SENTENCE}" ({len(SENTENCE)} characters, {tokens} tokens)'


def caption_via_app(app: GradioRest) -> str:
    return app.call("caption", image=app.upload(PICTURE))[0]


def caption_directly(loaded: tuple[Any, Any]) -> str:
    processor, model = loaded
    picture = UPLOAD.decode()
    inputs = processor(images=picture, return_tensors="pt").to(model.device, model.dtype)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=CAPTION_MAX_TOKENS)
    return processor.decode(output[0], skip_special_tokens=True).strip()


def describe_caption(loaded: tuple[Any, Any]) -> str:
    size = loaded[0].image_processor.size
    width, height = UPLOAD.decode().size
    return (
        f"`{PICTURE.relative_to(ROOT)}` ({width}x{height} JPEG, "
        f"resized to {size['width']}x{size['height']}), up to {CAPTION_MAX_TOKENS} new tokens"
    )


def generate_via_app(app: GradioRest) -> Image.Image:
    image, _seed = app.call(
        "generate",
        prompt=PROMPT,
        negative_prompt=NEGATIVE_PROMPT,
        steps=IMAGE_STEPS,
        guidance=IMAGE_GUIDANCE,
        width=IMAGE_SIZE,
        height=IMAGE_SIZE,
        seed=SEED,
    )
    with Image.open(io.BytesIO(app.download(image))) as png:
        return png.convert("RGB")


def generate_directly(pipeline: Any) -> Image.Image:
    generator = torch.Generator(device="cpu").manual_seed(SEED)
    with torch.inference_mode():
        result = pipeline(
            PROMPT,
            negative_prompt=NEGATIVE_PROMPT,
            num_inference_steps=IMAGE_STEPS,
            guidance_scale=IMAGE_GUIDANCE,
            width=IMAGE_SIZE,
            height=IMAGE_SIZE,
            generator=generator,
        )
    return result.images[0].convert("RGB")


def describe_imagegen(pipeline: Any) -> str:
    checker = "with" if pipeline.safety_checker is not None else "without"
    return (
        f'"{PROMPT}", negative "{NEGATIVE_PROMPT}", {IMAGE_SIZE}x{IMAGE_SIZE}, {IMAGE_STEPS} steps '
        f"({type(pipeline.scheduler).__name__}), guidance {IMAGE_GUIDANCE:g}, seed {SEED}, "
        f"{checker} safety checker"
    )


def chat_via_app(app: GradioRest) -> str:
    torch.manual_seed(SEED)  # the app samples in this process: the same seed samples the same reply
    reply = app.call(
        "chat",
        message=CHAT_MESSAGE,
        system_message=CHAT_SYSTEM_MESSAGE,
        temperature=CHAT_TEMPERATURE,
        max_tokens=CHAT_MAX_TOKENS,
    )
    return reply[0]


def chat_directly(loaded: tuple[Any, Any]) -> str:
    tokenizer, model = loaded
    inputs = _chat_prompt(tokenizer).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    arguments = {"max_new_tokens": CHAT_MAX_TOKENS, "do_sample": True, "temperature": CHAT_TEMPERATURE}
    torch.manual_seed(SEED)
    generation = threading.Thread(target=model.generate, kwargs={**inputs, **arguments, "streamer": streamer})
    generation.start()
    reply = "".join(streamer)
    generation.join()
    return reply


def describe_chat(loaded: tuple[Any, Any]) -> str:
    tokens = _chat_prompt(loaded[0])["input_ids"].shape[-1]
    return (
        f'"{CHAT_MESSAGE}" with the system message "{CHAT_SYSTEM_MESSAGE}" ({tokens} prompt tokens), '
        f"temperature {CHAT_TEMPERATURE:g}, max_tokens {CHAT_MAX_TOKENS}, streamed"
    )


def _chat_prompt(tokenizer: Any) -> Any:
    messages = [
        {"role": "system", "content": CHAT_SYSTEM_MESSAGE},
        {"role": "user", "content": CHAT_MESSAGE},
    ]
    return tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )


def same_images(app: Image.Image, direct: Image.Image) -> bool:
    return app.tobytes() == direct.tobytes()


@dataclass(frozen=True)
class TaskBench:
    """How to run one task both ways, and whether both ways gave the same output (None: not comparable)."""

    app: str
    backend: Callable[[Settings], Any]
    model_call: str  # the backend method that runs the model, timed inside the app
    via_app: Callable[[GradioRest], Any]
    directly: Callable[[Any], Any]
    describe: Callable[[Any], str]
    same_output: Callable[[Any, Any], bool] | None = None


BENCHES: dict[Task, TaskBench] = {
    "summarize": TaskBench(
        app="summarize",
        backend=summarization_backend,
        model_call="summarize",
        via_app=summarize_via_app,
        directly=summarize_directly,
        describe=describe_summarize,
        same_output=str.__eq__,
    ),
    "ner": TaskBench(
        app="ner",
        backend=token_classification_backend,
        model_call="classify_tokens",
        via_app=ner_via_app,
        directly=ner_directly,
        describe=describe_ner,
        # The app merges the pipeline's entities into whole ones: the outputs differ in shape.
    ),
    "caption": TaskBench(
        app="caption",
        backend=image_to_text_backend,
        model_call="caption",
        via_app=caption_via_app,
        directly=caption_directly,
        describe=describe_caption,
        same_output=str.__eq__,
    ),
    "imagegen": TaskBench(
        app="imagegen",
        backend=text_to_image_backend,
        model_call="generate",
        via_app=generate_via_app,
        directly=generate_directly,
        describe=describe_imagegen,
        same_output=same_images,
    ),
    "chat": TaskBench(
        app="chatbot",
        backend=chat_backend,
        model_call="stream_reply",
        via_app=chat_via_app,
        directly=chat_directly,
        describe=describe_chat,
        same_output=str.__eq__,
    ),
}


# Measuring one task in this process.


@dataclass
class TaskResult:
    """What one worker process measured; times in seconds, memory in bytes."""

    task: Task
    model: str
    runs: int = 0
    load: float | None = None
    first_call: float | None = None
    app: list[float] = field(default_factory=list)
    in_model_call: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    rss_before_load: int = 0
    peak_rss: int = 0
    models_loaded: list[str] = field(default_factory=list)
    same_output: bool | None = None
    inputs: str = ""
    error: str | None = None


def measure_task(task: Task, runs: int) -> TaskResult:
    """Serve the task's app from this process and time it against direct calls of its loaded model."""
    bench = BENCHES[task]
    settings = settings_from(os.environ)
    backend = bench.backend(settings)
    result = TaskResult(task=task, model=settings.for_task(task).model)
    load_times = _record_load_times(backend)
    model_call_times = _record_call_times(backend, bench.model_call)
    with running_app(bench.app, settings) as client, httpx.Client(timeout=None) as http:
        app = GradioRest(client, http)
        result.rss_before_load = psutil.Process().memory_info().rss
        try:
            result.first_call, _ = _timed(lambda: bench.via_app(app))
        except AppCallError as error:
            result.error = str(error)
            return result
        result.load = sum(load_times)
        model_call_times.clear()
        model = backend.model()
        _alternate(bench, app, model, runs, result)
        result.in_model_call = list(model_call_times)
        result.inputs = bench.describe(model)
    result.peak_rss = peak_rss()
    result.models_loaded = [name for name, _model in MODELS.loaded()]
    return result


def _alternate(bench: TaskBench, app: GradioRest, model: Any, runs: int, result: TaskResult) -> None:
    """Warm calls, through the app and direct in turn, so that changes in the machine's load hit both."""
    app_output = direct_output = None
    for _ in range(runs):
        elapsed, app_output = _timed(lambda: bench.via_app(app))
        result.app.append(elapsed)
        elapsed, direct_output = _timed(lambda: bench.directly(model))
        result.direct.append(elapsed)
    result.runs = runs
    if bench.same_output is not None:
        result.same_output = bench.same_output(app_output, direct_output)


def _record_load_times(backend: LocalBackend) -> list[float]:
    """Time the backend's own `load` inside the app's first call: the pure load, without the inference."""
    times: list[float] = []
    load = backend.load

    def timed_load() -> Any:
        elapsed, loaded = _timed(load)
        times.append(elapsed)
        return loaded

    backend.load = timed_load  # type: ignore[method-assign]
    return times


def _record_call_times(backend: LocalBackend, method: str) -> list[float]:
    """Time each call of the backend method that runs the model, as the app makes it.

    The app's latency minus this is what the app adds around the model, measured within one call:
    unlike app minus direct, it does not suffer from two calls being slowed differently.
    """
    times: list[float] = []
    call = getattr(backend, method)

    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - start)

    async def timed_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        start = time.perf_counter()
        try:
            async for item in call(*args, **kwargs):
                yield item
        finally:
            times.append(time.perf_counter() - start)

    setattr(backend, method, timed_stream if inspect.isasyncgenfunction(call) else timed_call)
    return times


def peak_rss() -> int:
    """The most memory this process has held, in bytes.

    From /proc, not `getrusage`: Linux carries `ru_maxrss` over from the parent across exec, so every
    worker would report the peak of the process that built the models.
    """
    status = Path("/proc/self/status")
    if status.exists():
        high_water = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(high_water.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS counts bytes


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    outcome = action()
    return time.perf_counter() - start, outcome


def run_worker(task: Task, runs: int, result_file: Path) -> None:
    result_file.write_text(json.dumps(asdict(measure_task(task, runs))))


# Models.


def prepare_models(profile: Profile, root: Path, tasks: list[Task]) -> dict[Task, str]:
    """The model each task runs: configured ids, or directories built under `root`."""
    if profile == "configured":
        settings = load_settings()
        return {task: settings.for_task(task).model for task in tasks}
    from testing.tiny_models import build_tiny_models

    tiny = build_tiny_models(root / "tiny")
    if profile == "tiny":
        return {task: str(getattr(tiny, task)) for task in tasks}
    return {task: str(build_realistic(task, tiny, root / "realistic" / task)) for task in tasks}


def build_realistic(task: Task, tiny: TinyModels, directory: Path) -> Path:
    """Build the task's real-size model unless a finished build is already there (`--models-dir`)."""
    finished = directory / ".built"
    if not finished.exists():
        shutil.rmtree(directory, ignore_errors=True)
        print(f"Building the real-size {task} model in {directory} ...", flush=True)
        REALISTIC_BUILDERS[task](tiny, directory)
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
    from testing.tiny_models import NER_LABELS

    tokenizer = AutoTokenizer.from_pretrained(tiny.ner)
    config = BertConfig(
        vocab_size=28996,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        id2label=dict(enumerate(NER_LABELS)),
        label2id={label: index for index, label in enumerate(NER_LABELS)},
    )
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
    from diffusers import PNDMScheduler, StableDiffusionPipeline

    tokenizer = AutoTokenizer.from_pretrained(tiny.imagegen / "tokenizer")
    StableDiffusionPipeline(
        vae=random_model(_sd_vae),
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
    from diffusers import UNet2DConditionModel

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


def _sd_vae() -> AutoencoderKL:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=512,
    )


def _sd_safety_checker() -> StableDiffusionSafetyChecker:
    """A CLIP ViT-L/14 image tower: SD 1.5 runs it on every image it makes."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

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


# The checkpoints whose architecture and size the real-size models copy.
REAL_SIZE_SHAPES: dict[Task, str] = {
    "summarize": "sshleifer/distilbart-cnn-12-6",
    "ner": "dslim/bert-base-NER",
    "caption": "Salesforce/blip-image-captioning-base",
    "imagegen": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "chat": "Qwen/Qwen2.5-0.5B-Instruct",
}
REALISTIC_BUILDERS: dict[Task, Callable[[TinyModels, Path], None]] = {
    "summarize": build_summarizer,
    "ner": build_token_classifier,
    "caption": build_captioner,
    "imagegen": build_image_generator,
    "chat": build_chat_model,
}

# A prime, so that neither rows nor layers line up with the pool's period.
WEIGHT_POOL_SIZE = 1_000_003
WEIGHT_STD = 0.02


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


# Running the workers and reporting.


def run_in_subprocess(task: Task, model: str, runs: int, environment: dict[str, str]) -> TaskResult:
    """Measure one task in a fresh process, so that its memory is its own."""
    with tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "result.json"
        command = [sys.executable, __file__, "--worker", task, f"--runs={runs}", f"--result={result_file}"]
        environment = {**environment, MODEL_VARIABLES[task]: model}
        try:
            finished = subprocess.run(
                command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return TaskResult(task=task, model=model, error=f"no result within {WORKER_TIMEOUT} s")
        if finished.returncode or not result_file.exists():
            print(*(finished.stdout + finished.stderr).splitlines()[-40:], sep="\n", file=sys.stderr)
            return TaskResult(task=task, model=model, error=f"the worker exited with {finished.returncode}")
        return TaskResult(**json.loads(result_file.read_text()))


def worker_environment(profile: Profile, scratch: Path) -> dict[str, str]:
    """This process's environment, with the local backend and nothing sent off the machine."""
    environment = {
        **os.environ,
        "INFERENCE_BACKEND": "local",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_TEMP_DIR": str(scratch / "gradio"),
    }
    if profile != "configured":
        environment["HF_HUB_OFFLINE"] = "1"  # built models are directories: nothing to fetch
    return environment


def model_label(profile: Profile, task: Task, model: str) -> str:
    """How the report names a model: built directories are temporary, so by what they are."""
    if profile == "tiny":
        return "the tests' tiny model"
    if profile == "realistic":
        return f"random weights shaped like `{REAL_SIZE_SHAPES[task]}`"
    return f"`{model}`"


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile: with fewer than 20 samples, p95 is the slowest run."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


COLUMNS = (
    "task",
    "runs",
    "load (s)",
    "first call (s)",
    "app median / p95 (ms)",
    "direct median / p95 (ms)",
    "app − direct (ms)",
    "around the model call (ms)",
    f"< {OVERHEAD_TARGET:g} %",
    "RSS before load → peak (MiB)",
    "models loaded",
    "same output",
)


def table_row(result: TaskResult) -> list[str]:
    if result.error is not None:
        return [result.task, "failed: " + result.error.replace("|", "\\|"), *["—"] * (len(COLUMNS) - 2)]
    direct = statistics.median(result.direct)
    around = around_model_call(result)
    return [
        result.task,
        str(result.runs),
        f"{result.load:.1f}",
        f"{result.first_call:.1f}",
        f"{_ms(statistics.median(result.app))} / {_ms(percentile(result.app, 0.95))}",
        f"{_ms(direct)} / {_ms(percentile(result.direct, 0.95))}",
        _share(statistics.median(result.app) - direct, direct),
        "—" if around is None else _share(around, direct),
        "—" if around is None else "yes" if 100 * around / direct < OVERHEAD_TARGET else "no",
        f"{result.rss_before_load / MiB:.0f} → {result.peak_rss / MiB:.0f}",
        ", ".join(result.models_loaded),
        {True: "yes", False: "no", None: "—"}[result.same_output],
    ]


def around_model_call(result: TaskResult) -> float | None:
    """Median of what each app call spent outside its model call; None unless one model call per request."""
    if len(result.in_model_call) != len(result.app):
        return None
    return statistics.median(app - model for app, model in zip(result.app, result.in_model_call, strict=True))


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f}"


def _share(seconds: float, of: float) -> str:
    return f"{_ms(seconds)} ({100 * seconds / of:.1f} %)"


def markdown_table(results: list[TaskResult]) -> str:
    rows = [list(COLUMNS), ["---"] * len(COLUMNS), *(table_row(result) for result in results)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def inputs_list(results: list[TaskResult]) -> str:
    return "\n".join(
        f"- **{result.task}** ({result.model}): {result.inputs or 'not run'}" for result in results
    )


def machine_summary(load_before: float, load_after: float) -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line for line in lines if line.startswith("model name")]
    cpu = names[0].split(":", 1)[1].strip() if names else platform.processor()
    return (
        f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {version('torch')}, transformers "
        f"{version('transformers')}, diffusers {version('diffusers')}, gradio {version('gradio')}. "
        f"Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end."
    )


def docs_page(profile: Profile, table: str, inputs: str, machine: str, duration: str) -> str:
    flag = {"configured": "", "tiny": " --tiny", "realistic": " --realistic"}[profile]
    return f"""# Local backend benchmarks

How fast each app answers on the in-process backend (`INFERENCE_BACKEND=local`), how much of that
is the app (Gradio, the queue, the task layer) rather than the model, and how much memory a process
serving one app needs.

Reproduce with `python scripts/bench_local.py{flag} --write-docs` (`--models-dir DIR` keeps the
built models for the next run). `--realistic` builds models with the real checkpoints'
architectures and sizes but random weights: latency and memory are the real ones, outputs are noise.
Each task runs in its own process serving only its app; app calls and direct calls alternate, so
that other load on the machine slows both alike.

Machine: {machine} The whole run took {duration}.

{table}

Inputs, the same for the app and the direct call:

{inputs}

Columns:
- **load**: loading the model alone (`from_pretrained`), measured inside the first call.
- **first call**: the first request through the app, which loads the model (load + first inference + app).
- **app**: a warm request through the app over Gradio's HTTP API (`POST /gradio_api/call/<api_name>`,
  then its event stream), as a browser or curl sends it: upload, queue, task-layer checks, model,
  download of the result. `gradio_client` adds about 150 ms per call on top: it looks for new
  messages every 50 ms.
- **direct**: the same inputs through the same loaded model, with the transformers/diffusers calls
  `common/backends/local.py` makes, in the same process, without Gradio or the task layer.
- **p95**: nearest rank; with fewer than 20 runs it is the slowest run.
- **app − direct**: the difference of the medians, in ms and in % of the direct median.
- **around the model call**: the median, over app calls, of each call's latency minus the time it
  spent in the backend method that runs the model (timed inside the app process), in ms and in % of
  the direct median. It is what the app adds, measured within each call, so it holds where
  app − direct scatters because other work on the machine slowed one call more than the other; it
  leaves out only the backend's own hand-offs to worker threads (well under a millisecond each).
- **< {OVERHEAD_TARGET:g} %**: whether what the app adds around the model call is under the target share.
- **RSS before load → peak**: the process's resident memory with the app running and torch imported,
  before the model loads; and the most it held: what serving this one app needs.
- **models loaded**: the backends whose model the process loaded; one each shows that a process
  serving one app loads only that app's model.
- **same output**: whether the last app call and the last direct call produced the same output
  (seeded where the model samples), so that both did the same work.
"""


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


@contextmanager
def models_root(models_dir: Path | None) -> Iterator[Path]:
    """`--models-dir` if given (kept), else a temporary directory (removed with its models)."""
    if models_dir is not None:
        models_dir.mkdir(parents=True, exist_ok=True)
        yield models_dir
        return
    with tempfile.TemporaryDirectory(prefix="bench-local-") as scratch:
        yield Path(scratch)


def run_benchmark(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    profile: Profile = "tiny" if args.tiny else "realistic" if args.realistic else "configured"
    tasks: list[Task] = args.tasks or list(TASKS)
    results: list[TaskResult] = []
    with models_root(args.models_dir) as root, tempfile.TemporaryDirectory() as scratch:
        models = prepare_models(profile, root, tasks)
        print(f"Models ready after {format_duration(_uptime())}.", flush=True)
        environment = worker_environment(profile, Path(scratch))
        for task in tasks:
            runs = args.runs or (TINY_RUNS if profile == "tiny" else REAL_SIZE_RUNS[task])
            print(f"{task}: {models[task]}, {runs} runs ...", flush=True)
            result = run_in_subprocess(task, models[task], runs, environment)
            result.model = model_label(profile, task, models[task])
            if result.error is not None:
                print(f"{task} failed: {result.error}", flush=True)
            results.append(result)
    duration = format_duration(_uptime())
    table, inputs = markdown_table(results), inputs_list(results)
    machine = machine_summary(load_before, os.getloadavg()[0])
    print(f"\n{table}\n\nInputs:\n{inputs}\n\nMachine: {machine}\nTotal time: {duration}.")
    if args.write_docs:
        DOCS_PAGE.write_text(docs_page(profile, table, inputs, machine, duration))
        print(f"Wrote {DOCS_PAGE.relative_to(ROOT)}.")


def _uptime() -> float:
    """Seconds since this process started, imports included."""
    return time.time() - psutil.Process().create_time()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--tiny", action="store_true", help="the test suite's tiny random-weight models")
    models.add_argument("--realistic", action="store_true", help="random-weight models of the real sizes")
    parser.add_argument("--models-dir", type=Path, help="build models here and reuse them on later runs")
    parser.add_argument(
        "--runs", type=int, help="warm calls per task and way (default: 20 with --tiny, else 2 to 20 by task)"
    )
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="only these tasks")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS_PAGE.relative_to(ROOT)}")
    parser.add_argument("--worker", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.runs, args.result)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
