"""The batch layout of object instances: box masks pasted on the grid, slots padded per batch."""
from __future__ import annotations

import numpy as np
import torch

from actattn.data.object_slots import pad_object_slots, paste_objects


def test_a_full_box_mask_covers_its_cells_and_an_empty_slot_stays_empty() -> None:
    boxes = np.array([[[0.0, 0.0, 32.0, 16.0], [0.0, 0.0, 0.0, 0.0]]], np.float32)  # (T=1, K=2, 4)
    masks = np.zeros((1, 2, 28, 28), np.float32)
    masks[0, 0] = 1.0
    classes = np.array([[3, -1]])
    grid, out_classes = paste_objects(boxes, masks, classes, (32, 64), grid=4)
    expected = torch.zeros(4, 4)
    expected[:2, :2] = 1.0  # the box is the top-left quarter of the 32 x 64 frame
    torch.testing.assert_close(grid[0, 0], expected)
    assert out_classes.tolist() == [[3, -1]] and grid[0, 1].sum() == 0


def test_slots_are_padded_to_the_batch_maximum_with_empty_ones() -> None:
    def sample(slots: int) -> dict:
        return {"object_masks": torch.ones(2, slots, 4, 4), "object_classes": torch.zeros(2, slots, dtype=torch.long)}

    padded = pad_object_slots([sample(1), sample(3)])
    assert [s["object_classes"].shape for s in padded] == [(2, 3), (2, 3)]
    assert (padded[0]["object_classes"][:, 1:] == -1).all() and padded[0]["object_masks"][:, 1:].sum() == 0
