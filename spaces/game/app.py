"""Describe-and-generate game: caption an image, then paint a new one from the caption."""

import gradio as gr

from common.examples import image_examples
from common.settings import Settings, load_settings
from common.tasks.game import DescribeAndDrawTask
from common.ui import RAW_UPLOAD, configure_queue, launch, sign_in_button

EXAMPLES = image_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = DescribeAndDrawTask(settings)
    with gr.Blocks(title="Describe-and-generate game") as demo:
        gr.Markdown(
            "# Describe-and-generate game 🖍️\n"
            f"`{task.captioner.model}` describes your image, "
            f"then `{task.painter.model}` paints the description."
        )
        sign_in_button()
        with gr.Row():
            with gr.Column():
                image_upload = gr.Image(label="Your first image", type="filepath")
                with gr.Row():
                    caption_button = gr.Button("Generate caption")
                    all_button = gr.Button("Caption and generate", variant="primary")
                gr.Examples(EXAMPLES, inputs=image_upload)
            with gr.Column():
                caption = gr.Textbox(label="Generated caption", info="Edit it before generating, if you like")
                image_button = gr.Button("Generate image")
                image_output = gr.Image(label="Generated image", format="png")

        caption_button.click(
            task.caption, inputs=image_upload, outputs=caption, api_name="caption", **RAW_UPLOAD
        )
        image_button.click(task.generate, inputs=caption, outputs=image_output, api_name="generate")
        all_button.click(
            task.caption_and_generate,
            inputs=image_upload,
            outputs=[caption, image_output],
            api_name="caption_and_generate",
            **RAW_UPLOAD,
        )
    return configure_queue(demo, settings, "caption", "imagegen")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
