"""Object affordance segmentation from attention (Dual Attention Network, Section 4.2).

The attention map guided by the ground-truth object (the object label is known when videos are
retrieved by a question such as "where to plug cables?") is segmented at 60% of its maximum
weight; the mask marks the object parts the action uses (a cup's brim, a shelf's handle). In the
Dual Attention Network that map is the action attention alpha of a model trained and run with
ground-truth priors, which the object label steers (eq. 6); :mod:`actattn.localize.run` picks it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from actattn.localize.spatial import threshold_map, upsample_map


def affordance_mask(
    attention: Tensor | np.ndarray,
    threshold: float = 0.6,
    *,
    frame_size: tuple[int, int] | None = None,
) -> Tensor:
    """Bool mask (H, W) of the positions whose attention is at least `threshold` x the maximum.

    With `frame_size` = (height, width) the map (H, W) is first upsampled bilinearly to the frame
    and the mask has the frame's size. A constant map selects everything; NaN raises ValueError.
    """
    if frame_size is not None:
        attention = upsample_map(attention, frame_size)
    return torch.from_numpy(threshold_map(attention, threshold))
