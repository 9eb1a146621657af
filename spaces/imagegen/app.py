"""Image generation: a prompt in, an image out, with the seed to reproduce it."""

import gradio as gr

from common.examples import text_examples
from common.settings import Settings, load_settings
from common.tasks.imagegen import GUIDANCE, MAX_SEED, SIZE, STEPS, ImageGenTask
from common.ui import configure_queue, launch, sign_in_button, slider

EXAMPLES = text_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = ImageGenTask(settings)
    with gr.Blocks(title="Image generation") as demo:
        gr.Markdown(f"# Image generation with Stable Diffusion\nGenerate any image with `{task.model}`.")
        sign_in_button()
        with gr.Row():
            prompt = gr.Textbox(label="Your prompt", scale=4, placeholder="a dog in a park")
            generate = gr.Button("Generate", variant="primary", scale=1, min_width=50)
        with gr.Accordion("Advanced options", open=False):
            negative_prompt = gr.Textbox(label="Negative prompt", placeholder="blurry, low quality")
            with gr.Row():
                with gr.Column():
                    steps = slider(
                        "Inference steps",
                        STEPS,
                        info="In how many steps will the denoiser denoise the image?",
                    )
                    guidance = slider(
                        "Guidance scale",
                        GUIDANCE,
                        info="Controls how much the text prompt influences the result",
                    )
                with gr.Column():
                    width = slider("Width", SIZE)
                    height = slider("Height", SIZE)
            with gr.Row(equal_height=True):
                seed = gr.Number(
                    label="Seed",
                    value=-1,
                    precision=0,
                    minimum=-1,
                    maximum=MAX_SEED,
                    info="-1 picks a random seed",
                    scale=4,
                )
                randomize = gr.Button("🎲 Random seed", scale=1)
        image = gr.Image(label="Result", format="png")
        with gr.Row(equal_height=True):
            used_seed = gr.Number(label="Seed used", precision=0, interactive=False, scale=4)
            reuse = gr.Button("♻️ Reuse this seed", scale=1)
        gr.Examples(EXAMPLES, inputs=prompt)

        gr.on(
            [generate.click, prompt.submit],
            fn=task.generate,
            inputs=[prompt, negative_prompt, steps, guidance, width, height, seed],
            outputs=[image, used_seed],
            api_name="generate",
        )
        randomize.click(lambda: -1, outputs=seed, api_visibility="private", queue=False)
        reuse.click(lambda used: used, inputs=used_seed, outputs=seed, api_visibility="private", queue=False)
    return configure_queue(demo, settings, "imagegen")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
