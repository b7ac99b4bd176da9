"""Pose for the pose-regularised Attentional Pooling: heatmap targets, joint layouts and a keypoint source.

- :func:`keypoint_heatmaps`: keypoints -> per-joint target maps on the feature grid, as the
  Attentional Pooling code builds them (REFERENCE_NOTES section 1): a filled disc per joint of
  radius ``radius_ratio`` x image width, no blur, area-downsampled onto the backbone's cells,
  min-max normalised per map.
- :data:`JOINT_NAMES`: the joint order of each keypoint layout the project reads (COCO's 17 from
  Keypoint R-CNN, MPII's 16, SynthHOI's 5 arm keypoints); :func:`flip_permutation` says which
  channels a horizontal flip swaps ("left_wrist" <-> "right_wrist").
- :class:`KeypointDetector`: torchvision's COCO Keypoint R-CNN, the highest-scoring person per
  frame (the paper used OpenPose keypoints, which cannot be downloaded here).
- :func:`keypoint_cache` / :func:`cached_keypoints`: run the detector once per video and keep the
  result as .npz, in the same ``"keypoints"`` layout as SynthHOI's ground truth (so datasets read
  either); ``actattn keypoints`` fills the cache for a CSV dataset.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from einops import rearrange, reduce
from torch import Tensor, nn
from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights, keypointrcnn_resnet50_fpn

from actattn.data.sampling import read_keypoints
from actattn.data.synthetic import KEYPOINT_NAMES
from actattn.data.video import read_video
from actattn.files import atomic_write

NUM_COCO_KEYPOINTS = 17
_DRAW_ROWS = 200  # the reference draws its discs on a 200-px map before resizing to the grid
_FRAMES_PER_CALL = 8

COCO_KEYPOINT_NAMES: tuple[str, ...] = tuple(KeypointRCNN_ResNet50_FPN_Weights.COCO_V1.meta["keypoint_names"])
# the MPII Human Pose README's joint ids 0..15; "left"/"right" are the person's own sides
MPII_JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist",
)
JOINT_NAMES: dict[str, tuple[str, ...]] = {
    "coco": COCO_KEYPOINT_NAMES,  # `actattn keypoints` (Keypoint R-CNN)
    "mpii": MPII_JOINT_NAMES,
    "synthhoi": KEYPOINT_NAMES,  # one arm: no left/right pairs, a flip keeps every channel
}


def _mirror_joint(name: str) -> str:
    """``"left_wrist"`` -> ``"right_wrist"`` and back; a name without a side is its own mirror."""
    sides = {"left": "right", "right": "left"}
    return "_".join(sides.get(part, part) for part in name.split("_"))


def flip_permutation(joint_names: Sequence[str]) -> list[int]:
    """Joint order after a horizontal flip: channel ``i`` of the flipped keypoints is channel
    ``perm[i]`` of the original, the joint of the other side (``"left_x"`` <-> ``"right_x"``).

    A flip mirrors the person, so their left joints land where their right joints were. A joint
    with a side and no partner in ``joint_names`` raises ValueError.
    """
    index = {name: i for i, name in enumerate(joint_names)}
    if len(index) != len(joint_names):
        raise ValueError(f"joint names repeat: {list(joint_names)}")
    missing = [name for name in joint_names if _mirror_joint(name) not in index]
    if missing:
        raise ValueError(f"joints {missing} have a side but no mirrored partner in {list(joint_names)}")
    return [index[_mirror_joint(name)] for name in joint_names]


def keypoint_heatmaps(
    keypoints: Tensor, image_size: tuple[int, int], stride: int, radius_ratio: float = 0.05
) -> tuple[Tensor, Tensor]:
    """Disc heatmaps ``(..., J, h, w)`` in [0, 1] and validity ``(..., J)`` for ``(..., J, 3)`` keypoints.

    keypoints: ``(x, y, visible)`` in pixels of an image of ``image_size = (H, W)``, continuous
    coordinates (pixel ``i`` spans ``[i, i + 1)``). The grid is the backbone's feature grid for
    output ``stride`` s: ``h, w = ceil(H / s), ceil(W / s)``, and cell ``(i, j)`` covers pixels
    ``[i s, (i + 1) s) x [j s, (j + 1) s)``, so the last row and column of cells reach past the
    image when H or W is not a multiple of s. A joint is valid if visible and inside the image;
    an invalid joint's map is all zeros. Each map is the fraction of every cell's ``s x s`` area
    that a filled disc of radius ``radius_ratio * W``, clipped to the image, covers (exact along
    x, sampled on at least 200 rows along y), then min-max normalised, so its maximum is 1 at the
    cells around the joint.
    """
    if keypoints.shape[-1] != 3:
        raise ValueError(f"keypoints must be (..., J, 3), got {tuple(keypoints.shape)}")
    height, width = image_size
    grid_h, grid_w = math.ceil(height / stride), math.ceil(width / stride)
    rows_per_cell = math.ceil(_DRAW_ROWS / grid_h)
    points = rearrange(keypoints.float(), "... c -> (...) c")
    x, y, visible = points.unbind(-1)
    valid = (visible > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)
    radius = radius_ratio * width
    row_y = (torch.arange(grid_h * rows_per_cell, device=points.device) + 0.5) * (stride / rows_per_cell)
    half_chord = (radius**2 - (row_y[None, :] - y[:, None]) ** 2).clamp(min=0).sqrt()  # (N, rows)
    half_chord = half_chord * (row_y < height)  # no disc below the image
    cell_edges = torch.arange(grid_w + 1, device=points.device) * stride
    left = torch.maximum(x[:, None, None] - half_chord[..., None], cell_edges[:-1])
    right = torch.minimum(x[:, None, None] + half_chord[..., None], cell_edges[1:].clamp(max=width))
    covered = (right - left).clamp(min=0) / stride  # (N, rows, w)
    maps = reduce(covered, "n (h s) w -> n h w", "mean", h=grid_h) * valid[:, None, None]
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    maps = torch.where(span > 0, (maps - low) / span.clamp(min=1e-12), torch.zeros_like(maps))
    lead = keypoints.shape[:-1]
    return maps.reshape(*lead, grid_h, grid_w), valid.reshape(lead)


class KeypointDetector(nn.Module):
    """COCO Keypoint R-CNN (torchvision ``keypointrcnn_resnet50_fpn``) as a per-frame pose source.

    ``pretrained`` loads torchvision's COCO weights (downloaded by torchvision if not cached);
    ``weights_path`` loads a local state dict; neither gives random weights. ``min_size`` and
    ``max_size`` are the detector's input resizing (torchvision's defaults 800, 1333). Only the
    best person per frame is kept, so the detector returns at most one box per image.
    ``frames_without_person`` counts the frames so far in which no person scored above
    ``score_threshold``.
    """

    def __init__(
        self,
        pretrained: bool = False,
        weights_path: str | Path | None = None,
        score_threshold: float = 0.5,
        min_size: int = 800,
        max_size: int = 1333,
    ):
        super().__init__()
        if pretrained and weights_path is not None:
            raise ValueError("pass pretrained=True or weights_path, not both")
        self.score_threshold = score_threshold
        self.model = keypointrcnn_resnet50_fpn(
            weights=KeypointRCNN_ResNet50_FPN_Weights.DEFAULT if pretrained else None,
            weights_backbone=None,
            box_score_thresh=score_threshold,
            box_detections_per_img=1,
            min_size=min_size,
            max_size=max_size,
        )
        if weights_path is not None:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            try:
                self.model.load_state_dict(state)
            except RuntimeError as err:
                raise ValueError(f"{weights_path}: not a keypointrcnn_resnet50_fpn state dict ({err})") from err
        self.frames_without_person = 0
        self.eval()

    @torch.no_grad()
    def detect(self, frames: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 -> ``(T, 17, 3)`` float32 ``(x, y, visible)`` in pixels.

        A frame without a person above the threshold gets all-zero (invisible) keypoints; their
        number is added to ``frames_without_person`` and reported in one warning.
        """
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
        self.model.eval()
        device = next(self.model.parameters()).device
        images = rearrange(torch.from_numpy(frames).to(device), "t h w c -> t c h w").float() / 255.0
        detections = []
        for start in range(0, len(images), _FRAMES_PER_CALL):
            detections.extend(self.model(list(images[start : start + _FRAMES_PER_CALL])))
        keypoints = np.zeros((len(frames), NUM_COCO_KEYPOINTS, 3), dtype=np.float32)
        missing = 0
        for t, detection in enumerate(detections):
            if len(detection["scores"]) == 0:
                missing += 1
            else:
                keypoints[t] = detection["keypoints"][0].cpu().numpy()
        if missing:
            self.frames_without_person += missing
            warnings.warn(
                f"no person scored above {self.score_threshold} in {missing} of {len(frames)} frames;"
                " their keypoints are marked invisible",
                stacklevel=2,
            )
        return keypoints


def keypoint_cache(video_path: str | Path, cache_dir: str | Path, detector: KeypointDetector) -> Path:
    """``cache_dir/{video stem}.npz`` (array ``"keypoints"`` ``(T, 17, 3)``), detected on all frames of
    ``video_path`` on first use and written atomically, so concurrent workers never read a partial file."""
    cache = Path(cache_dir) / f"{Path(video_path).stem}.npz"
    if not cache.is_file():
        keypoints = detector.detect(read_video(video_path))
        atomic_write(cache, lambda file: np.savez(file, keypoints=keypoints))
    return cache


def cached_keypoints(
    video_path: str | Path, cache_dir: str | Path, detector: KeypointDetector, indices: Sequence[int]
) -> np.ndarray:
    """Keypoints ``(len(indices), 17, 3)`` of ``video_path`` from its :func:`keypoint_cache`."""
    return read_keypoints(keypoint_cache(video_path, cache_dir, detector), indices)
