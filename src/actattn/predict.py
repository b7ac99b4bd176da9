"""One video through a trained model with the input pipeline its checkpoint records: the frames it
samples, the top classes and the attention pictures (``actattn predict``); and a split's scores
averaged over the test protocol's views, as the EPIC-100 challenge's submission (``actattn test
--submission``).

The checkpoint's pipeline (crop size, resized short side, TSN segments or a dense clip,
normalisation) is what ``actattn test`` evaluates with, so a prediction is the test-time one. The
video is streamed: only the sampled frames are converted and decoding stops after the last one,
so memory does not grow with the video's length.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from actattn.checkpoint import CheckpointError
from actattn.data.datamodule import VideoDataModule
from actattn.data.formats import write_epic100_submission
from actattn.data.formats.epic import NUM_NOUNS_100, NUM_VERBS_100
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


@torch.no_grad()
def split_scores(module: ActionRecognizer, datamodule: VideoDataModule, split: str = "test",
                 progress: bool = False) -> tuple[list[str], dict[str, Tensor]]:
    """The ids of ``split``'s samples (the official files' ids) and, per logit key, their class
    probabilities ``(N, K)`` from the logits averaged over each sample's views (the test protocol).
    Skipped bad videos are left out, with a warning."""
    from tqdm import tqdm

    dataset = datamodule.datasets[split]
    samples = getattr(dataset, "samples", None)
    ids = [sample.id for sample in samples] if samples is not None else [str(r.path) for r in dataset.records]
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    module.eval()
    indices, scores = [], {}
    for batch in tqdm(loader, desc=f"scores of {split}", disable=not progress):
        if "video" not in batch:
            continue
        batch = {key: value.to(module.device) for key, value in batch.items()}
        _, _, logits = module.video_logits(batch)
        indices += batch["index"].tolist()
        for key, value in logits.items():
            scores.setdefault(key, []).append(value.softmax(-1).cpu())
    if len(indices) < len(dataset):
        warnings.warn(f"{len(dataset) - len(indices)} of the {len(dataset)} {split} videos were skipped as bad "
                      "videos and have no scores", stacklevel=2)
    return [ids[i] for i in indices], {key: torch.cat(value) for key, value in scores.items()}


def epic100_scores(scores: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Verb ``(N, 97)`` and noun ``(N, 300)`` probabilities for the EPIC-100 submission: a model's
    ``verb``/``noun`` outputs, else the verb and noun marginals of an ``action`` model's 29,100
    (verb, noun) classes (``action = verb * 300 + noun``, as :func:`~actattn.data.formats.read_epic100` numbers them)."""
    if "verb" in scores and "noun" in scores:
        return scores["verb"], scores["noun"]
    action = scores["action"]
    if action.shape[-1] != NUM_VERBS_100 * NUM_NOUNS_100:
        raise ValueError(f"the EPIC-100 submission needs verb and noun scores: train the epic100 task 'action' "
                         f"({NUM_VERBS_100} x {NUM_NOUNS_100} classes); this model has {action.shape[-1]} classes")
    pairs = action.unflatten(-1, (NUM_VERBS_100, NUM_NOUNS_100))
    return pairs.sum(-1), pairs.sum(-2)


def write_test_submission(config: dict, checkpoint: str | Path, path: str | Path, sls: tuple[int, int, int],
                          progress: bool = True) -> tuple[Path, bool]:
    """The EPIC-100 action-recognition challenge's submission (JSON, or ``.zip`` holding
    ``test.json``) of ``checkpoint`` on ``config``'s test split, with the supervision levels ``sls``
    (pretraining, training labels, training data). Returns the path and whether the split is labelled."""
    from actattn.checkpoint import load_module
    from actattn.experiment import build_datamodule, check_label_space

    datamodule = build_datamodule(config)
    if datamodule.hparams.format != "epic100":
        raise ValueError(f"--submission writes the EPIC-100 challenge's JSON; the config reads {datamodule.hparams.format!r}")
    module = load_module(checkpoint)
    check_label_space(datamodule, module, checkpoint)
    ids, scores = split_scores(module, datamodule, "test", progress=progress)
    verbs, nouns = epic100_scores(scores)
    written = write_epic100_submission(path, ids, verbs.numpy(), nouns.numpy(), sls_pt=sls[0], sls_tl=sls[1],
                                       sls_td=sls[2])
    labelled = any(record.label is not None for record in datamodule.datasets["test"].records)
    return written, labelled
