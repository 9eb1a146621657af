"""Image generation: a prompt in, up to four images out, each with the seed to reproduce it."""

import gradio as gr

from common.examples import text_examples
from common.i18n import ui
from common.image_history import pick, reuse, show_history
from common.settings import Settings, load_settings
from common.tasks.imagegen import GUIDANCE, MAX_SEED, NUM_IMAGES, SIZE, STEPS, ImageGenTask
from common.ui import (
    DELETE_CACHE,
    FIT_CONTENT,
    api_endpoint,
    launch,
    model_line,
    ready_to_serve,
    sign_in_button,
    slider,
)

EXAMPLES = text_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = ImageGenTask(settings)
    with gr.Blocks(title="Image generation", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(ui("imagegen_title"))
        gr.Markdown(ui("imagegen_description"))
        model_line(task.model)
        sign_in_button()
        with gr.Row():
            prompt = gr.Textbox(
                label=ui("imagegen_prompt"),
                info=ui("imagegen_prompt_info"),
                placeholder=ui("imagegen_prompt_placeholder"),
                scale=3,
                # A phone's width: the prompt takes a line of its own rather than half of one.
                min_width=320,
            )
            num_images = slider(ui("imagegen_num_images"), NUM_IMAGES)
            generate = gr.Button(ui("imagegen_generate"), variant="primary", scale=1, min_width=50)
        gr.Examples(EXAMPLES, inputs=prompt, label=ui("examples"))
        with gr.Accordion(ui("imagegen_advanced"), open=False) as advanced:
            negative_prompt = gr.Textbox(
                label=ui("imagegen_negative_prompt"), placeholder=ui("imagegen_negative_placeholder")
            )
            with gr.Row():
                with gr.Column():
                    steps = slider(ui("imagegen_steps"), STEPS, info=ui("imagegen_steps_info"))
                    guidance = slider(ui("imagegen_guidance"), GUIDANCE, info=ui("imagegen_guidance_info"))
                with gr.Column():
                    width = slider(ui("imagegen_width"), SIZE)
                    height = slider(ui("imagegen_height"), SIZE)
            with gr.Row():
                seed = gr.Number(
                    label=ui("imagegen_seed"),
                    value=-1,
                    precision=0,
                    minimum=-1,
                    maximum=MAX_SEED,
                    info=ui("imagegen_seed_info"),
                    scale=4,
                )
                randomize = gr.Button(ui("imagegen_random_seed"), size="sm", scale=1)
        results = gr.Gallery(
            label=ui("imagegen_results"),
            columns=2,
            fit_columns=False,
            object_fit="contain",
            height=FIT_CONTENT,
        )
        with gr.Row():
            used_seed = gr.Textbox(
                label=ui("imagegen_seed_used"),
                info=ui("imagegen_seed_used_info"),
                placeholder=ui("imagegen_seed_used_placeholder"),
                interactive=False,
                scale=4,
            )
            reuse_seed = gr.Button(ui("imagegen_reuse_seed"), size="sm", scale=1, interactive=False)
        # Shown once there is something to show.
        with gr.Column(visible=False) as history_area:
            history_gallery = gr.Gallery(
                label=ui("imagegen_history"),
                columns=6,
                fit_columns=False,
                object_fit="contain",
                height=FIT_CONTENT,
            )
            gr.Markdown(ui("imagegen_history_hint"))
            with gr.Row():
                reuse_settings = gr.Button(
                    ui("imagegen_reuse_settings"), interactive=False, scale=0, min_width=240
                )
        # Only scripts read these: the image and seed of `/generate`, the seeds of `/generate_images`.
        image = gr.Image(label=ui("imagegen_result"), format="png", visible=False)
        image_seed = gr.Number(label=ui("imagegen_seed_used"), precision=0, visible=False)
        seeds = gr.JSON(label=ui("imagegen_seeds"), visible=False)
        history = gr.State([])
        picked = gr.State()

        controls = [prompt, negative_prompt, steps, guidance, width, height, seed]
        gr.on(
            [generate.click, prompt.submit],
            fn=task.generate_into_history,
            inputs=[*controls, num_images, history],
            outputs=[results, seeds, history],
            api_name="generate_into_history",
            api_visibility="undocumented",
        ).success(
            lambda used: (str(used[0]), gr.Button(interactive=True)),
            inputs=seeds,
            outputs=[used_seed, reuse_seed],
            api_visibility="private",
            queue=False,
        )
        # For programs and agents: a batch without the page's history, and one image with its seed.
        api_endpoint(
            task.generate_images, [*controls, num_images], [results, seeds], api_name="generate_images"
        )
        api_endpoint(task.generate, controls, [image, image_seed], api_name="generate")
        randomize.click(lambda: -1, outputs=seed, api_visibility="private", queue=False)
        reuse_seed.click(int, inputs=used_seed, outputs=seed, api_visibility="private", queue=False)
        history.change(
            show_history,
            inputs=history,
            outputs=history_gallery,
            api_name="history",
            api_visibility="undocumented",
        )
        history.change(
            lambda results: gr.Column(visible=bool(results)),
            inputs=history,
            outputs=history_area,
            api_visibility="private",
            queue=False,
        )
        history_gallery.select(
            pick, inputs=history, outputs=[picked, reuse_settings], api_visibility="private", queue=False
        )
        reuse_settings.click(
            reuse, inputs=picked, outputs=[*controls, advanced], api_visibility="private", queue=False
        )
    return ready_to_serve(demo, settings, "imagegen")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
