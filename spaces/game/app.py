"""Describe-and-generate game: caption an image, then paint a new one from the caption; or play
telephone, passing the picture along for several rounds."""

import gradio as gr

from common.examples import image_examples
from common.i18n import ui
from common.settings import Settings, load_settings
from common.tasks.game import ROUNDS, DescribeAndDrawTask
from common.ui import (
    DELETE_CACHE,
    FIT_CONTENT,
    RAW_UPLOAD,
    clear_errors_on,
    launch,
    model_line,
    ready_to_serve,
    sign_in_button,
    slider,
)

EXAMPLES = image_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = DescribeAndDrawTask(settings)
    with gr.Blocks(title="Describe-and-generate game", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(ui("game_title"))
        gr.Markdown(ui("game_description"))
        model_line(task.captioner.model)
        model_line(task.painter.model)
        sign_in_button()
        with gr.Row():
            with gr.Column():
                image_upload = gr.Image(label=ui("game_image"), type="filepath")
                with gr.Row():
                    caption_button = gr.Button(ui("game_caption_button"))
                    all_button = gr.Button(ui("game_both_button"), variant="primary")
                gr.Examples(EXAMPLES, inputs=image_upload, label=ui("examples"))
            with gr.Column():
                caption = gr.Textbox(label=ui("game_caption"), info=ui("game_caption_info"))
                image_button = gr.Button(ui("game_image_button"))
                image_output = gr.Image(label=ui("game_image_output"), format="png")
        gr.Markdown(ui("game_telephone_title"))
        gr.Markdown(ui("game_telephone_description"))
        with gr.Row():
            rounds = slider(ui("game_rounds"), ROUNDS, info=ui("game_rounds_info"))
            play_button = gr.Button(ui("game_play"), variant="primary")
        timeline = gr.Gallery(
            label=ui("game_timeline"),
            columns=int(ROUNDS.maximum) + 1,
            height=FIT_CONTENT,
            object_fit="contain",
            # One picture at first: a thumbnail among those to come, not blown up to the gallery's width.
            fit_columns=False,
        )
        verdict = gr.Markdown(label=ui("game_verdict"), padding=True)
        # Only scripts read the score as a number; the page shows it in the verdict.
        similarity = gr.Number(label=ui("game_similarity"), precision=1, visible=False)

        clear_errors_on(
            [
                image_upload.change,
                *(button.click for button in (caption_button, image_button, all_button, play_button)),
            ],
            [caption, image_output, timeline, verdict],
        )
        caption_button.click(
            task.caption, inputs=image_upload, outputs=caption, api_name="caption", **RAW_UPLOAD
        )
        gr.on(
            [image_button.click, caption.submit],
            task.generate,
            inputs=caption,
            outputs=image_output,
            api_name="generate",
        )
        all_button.click(
            task.caption_and_generate,
            inputs=image_upload,
            outputs=[caption, image_output],
            api_name="caption_and_generate",
            **RAW_UPLOAD,
        )
        play_button.click(
            task.telephone,
            inputs=[image_upload, rounds],
            outputs=[timeline, similarity, verdict],
            api_name="telephone",
            **RAW_UPLOAD,
        )
    return ready_to_serve(demo, settings, "caption", "imagegen")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
