"""One video through a trained model with the input pipeline its checkpoint records: the frames it
samples, the top classes and the attention pictures (``actattn predict``).

The checkpoint's pipeline (crop size, resized short side, TSN segments or a dense clip,
normalisation) is what ``actattn test`` evaluates with, so a prediction is the test-time one. The
video is streamed: only the sampled frames are converted and decoding stops after the last one,
so memory does not grow with the video's length.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from actattn.checkpoint import CheckpointError
from actattn.data.sampling import frame_indices
from actattn.data.transforms import eval_transform
from actattn.data.video import read_clip
from actattn.files import save_json
from actattn.output import ModelOutput
from actattn.train import ActionRecognizer
from actattn.viz import attention_animation, attention_columns, attention_figure, denormalize


@dataclass
class Prediction:
    """``video`` (3, T, H, W) as the model saw it, the sampled ``frames``, the ``output`` and the
    ``ranked`` classes ``[{"label", "probability"}]``, most probable first."""

    video: Tensor
    frames: list[int]
    output: ModelOutput
    ranked: list[dict[str, float | str]]


@torch.no_grad()
def predict_video(module: ActionRecognizer, path: str | Path, *, top: int = 5, progress: bool = False) -> Prediction:
    """Sample, transform and classify ``path`` as the checkpoint's evaluation pipeline does."""
    pipeline, names = module.hparams.pipeline, module.hparams.class_names
    if not pipeline or not names:
        raise CheckpointError("the checkpoint records no input pipeline or class names; it was not written by "
                              "`actattn fit`")
    frames, indices = read_clip(path, lambda n: frame_indices(n, pipeline["num_segments"], pipeline["clip_stride"],
                                                              train=False), progress=progress,
                                threads=os.cpu_count() or 1)
    transform = eval_transform(pipeline["size"], short_side=pipeline["short_side"], mean=pipeline["mean"],
                               std=pipeline["std"])
    video = transform({"frames": frames})["video"]
    output = module.eval()(video[None].to(module.device), class_maps=True)
    probabilities = output.logits["action"][0].softmax(-1)
    best = probabilities.topk(min(top, len(probabilities)))
    ranked = [{"label": names[int(i)], "probability": float(p)} for p, i in zip(best.values, best.indices)]
    return Prediction(video, indices, output, ranked)


def write_prediction(prediction: Prediction, video: str | Path, names: list[str], out: str | Path) -> list[Path]:
    """``out/attention.png`` and ``.gif`` (Fig. 2 for the predicted class) and ``out/predictions.json``."""
    out = Path(out)
    frames = denormalize(prediction.video)
    columns = attention_columns(prediction.output, 0, names)
    title = f"{Path(video).name}: predicted '{prediction.ranked[0]['label']}'"
    return [
        attention_figure(frames, columns, out / "attention.png", title),
        attention_animation(frames, columns, out / "attention.gif"),
        save_json({"video": str(video), "frames": prediction.frames, "top": prediction.ranked},
                  out / "predictions.json"),
    ]
