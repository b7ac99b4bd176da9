"""Pretraining the small CNN on SynthHOI's own ground truth: ImageNet's part for the CPU demo.

Real backbones start from ImageNet, whose features are local and semantic; a small CNN trained
from nothing on action labels alone need not be either, and its attention then need not land on
the hand or the object. This stage gives the small CNN what ImageNet gives a ResNet: per frame
and per feature cell (8x8 at 64 px), it predicts the share of the cell that each of SynthHOI's
13 object categories covers where it is visible, the shares the arm and the hand's box cover,
and which cell holds each of the arm's five keypoints (binary cross-entropy against those
targets, a 1x1 convolution on the features). No action label, interval, contact region or
"manipulated" flag is used, so what an attention head later learns about where an action
happens comes from the action labels alone.

The scenes are rendered in memory (``default`` preset at 64 px) from seeds that no demo uses;
``actattn pretrain --out FILE`` writes the backbone's weights with what made them, and
``SmallCNN(pretrained=True)`` loads the copy shipped with the package (:data:`WEIGHTS`).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange, reduce
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from actattn.backbones.small_cnn import WEIGHTS, SmallCNN
from actattn.data.synthetic import KEYPOINT_NAMES, OBJECTS, Scene, preset, render_scene
from actattn.data.transforms import Normalize

DILATIONS = (1, 1)
SEED_OFFSET = 10_000_000  # scene seeds of pretraining; the demos' come from write_dataset's item seeds
TARGETS = [*(category.name for category in OBJECTS), "arm", "hand", *KEYPOINT_NAMES]


def cell_targets(scene: Scene, stride: int) -> np.ndarray:
    """(T, len(TARGETS), S / stride, S / stride) float32: the share of each cell covered by each
    object category's visible pixels, by the arm and by the hand's box; then per keypoint 1 in the
    cell that holds it."""
    arm = scene.arm_masks
    objects = np.zeros((len(OBJECTS), *arm.shape), dtype=bool)
    for category, masks in zip(scene.categories, rearrange(scene.masks, "t n h w -> n t h w")):
        objects[category] |= masks & ~arm
    hand = np.zeros_like(arm)
    for t, (x1, y1, x2, y2) in enumerate(np.round(scene.hand_boxes).astype(int)):
        hand[t, max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = True
    layers = np.concatenate([rearrange(objects, "c t h w -> t c h w"), arm[:, None], hand[:, None]], axis=1)
    shares = reduce(layers.astype(np.float32), "t c (h s1) (w s2) -> t c h w", "mean", s1=stride, s2=stride)
    return np.concatenate([shares, keypoint_cells(scene.keypoints, shares.shape[-2:], stride)], axis=1)


def keypoint_cells(keypoints: np.ndarray, grid: tuple[int, int], stride: int) -> np.ndarray:
    """(T, J, h, w) float32: 1 in the cell that holds each visible joint, 0 elsewhere."""
    cells = np.zeros((len(keypoints), keypoints.shape[1], *grid), dtype=np.float32)
    for t, j in zip(*np.nonzero(keypoints[..., 2] > 0)):
        x, y = keypoints[t, j, :2] // stride
        if 0 <= y < grid[0] and 0 <= x < grid[1]:
            cells[t, j, int(y), int(x)] = 1.0
    return cells


class SceneCells(Dataset):
    """Scene ``i`` rendered from seed ``SEED_OFFSET + seed * 1_000_000 + i``: ``{"video" (3, T, S, S)
    normalised, "cells" (T, len(TARGETS), S/8, S/8)}``."""

    def __init__(self, count: int, seed: int, size: int = 64) -> None:
        self.count, self.seed, self.config = count, seed, preset("default", size=size)
        self.normalize = Normalize()

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        scene = render_scene(self.config, SEED_OFFSET + self.seed * 1_000_000 + index)
        video = self.normalize({"frames": scene.frames})["video"]
        return {"video": video, "cells": torch.from_numpy(cell_targets(scene, stride=8))}


class CellPretraining(L.LightningModule):
    """SmallCNN + a 1x1 convolution to one logit per target and cell; Adam with a cosine schedule."""

    def __init__(self, lr: float = 2e-3, weight_decay: float = 1e-4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone = SmallCNN(DILATIONS)
        self.cells = nn.Conv2d(self.backbone.out_channels, len(TARGETS), 1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        feats = self.backbone(batch["video"])  # (B, T, C, h, w)
        logits = self.cells(rearrange(feats, "b t c h w -> (b t) c h w"))
        return F.binary_cross_entropy_with_logits(logits, rearrange(batch["cells"], "b t k h w -> (b t) k h w"))

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("pretrain/loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.trainer.max_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def pretrain(out: str | Path, *, scenes: int, epochs: int, batch_size: int = 4, seed: int = 0,
             workers: int = 2) -> Path:
    """Pretrain on ``scenes`` scenes for ``epochs`` epochs (batches of ``batch_size`` scenes,
    all their frames); write the backbone's state dict and the recipe to ``out``."""
    L.seed_everything(seed, workers=True)
    module = CellPretraining()
    loader = DataLoader(SceneCells(scenes, seed), batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(seed))
    steps = epochs * len(loader)
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_model_summary=False, log_every_n_steps=50)
    trainer.fit(module, loader)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.backbone.state_dict(), "dilations": list(DILATIONS), "targets": TARGETS,
                "recipe": {"scenes": scenes, "epochs": epochs, "batch_size": batch_size, "seed": seed,
                           "steps": steps, "final_loss": float(trainer.callback_metrics["pretrain/loss"])}}, out)
    return out


def add_pretrain_parser(sub: argparse._SubParsersAction) -> None:
    """``actattn pretrain``: the command that makes :data:`WEIGHTS`."""
    p = sub.add_parser("pretrain", help="pretrain the small CNN on SynthHOI's per-cell object and hand shares")
    p.add_argument("--out", default=str(WEIGHTS), help=f"the weights file (default: the shipped {WEIGHTS.name})")
    p.add_argument("--scenes", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=lambda args: print(pretrain(args.out, scenes=args.scenes, epochs=args.epochs, seed=args.seed,
                                                    workers=args.workers)))
