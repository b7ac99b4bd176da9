from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from actattn.viz.localization import (
    PREDICTED,
    TRUE,
    affordance_figure,
    attention_strip,
    draw_boxes,
    grey_out,
    localization_figure,
    outline,
    spread,
    tint,
)

BLUE = (0, 0, 255)


def solid(num_frames: int, colour: tuple[int, int, int] = BLUE, size: int = 32) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (num_frames, size, size, 1))


def count_colour(path: Path, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels of a PNG within `tolerance` of `colour` in every channel."""
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(colour)).max(-1) <= tolerance).sum())


def test_boxes_are_drawn_on_their_pixel_edges() -> None:
    frame = np.zeros((10, 10, 3), np.uint8)
    out = draw_boxes(frame, [(2.0, 3.0, 6.0, 8.0)], PREDICTED)
    coloured = (out == PREDICTED).all(-1)
    rows, cols = np.nonzero(coloured)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 7, 2, 5)  # box covers rows 3..7, columns 2..5
    assert not coloured[4:7, 3:5].any()  # the inside stays as it was
    assert (frame == 0).all()  # the input is not changed


def test_grey_out_removes_colour_and_contrast() -> None:
    frame = np.array([[[255, 0, 0], [0, 0, 0]]], np.uint8)
    grey = grey_out(frame).astype(int)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert 0 < grey[0, 0, 0] - grey[0, 1, 0] < 255


def test_tint_and_outline_touch_only_the_mask() -> None:
    frame = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    tinted = tint(frame, mask, (200, 100, 0), alpha=0.5)
    assert (tinted[mask] == (100, 50, 0)).all() and (tinted[~mask] == 0).all()
    edge = (outline(frame, mask, TRUE) == TRUE).all(-1)
    assert edge[2, 2:6].all() and edge[2:6, 2].all() and not edge[3:5, 3:5].any() and edge.sum() == 12


def test_spread_picks_up_to_eight_frames_over_a_range() -> None:
    assert spread(0, 3) == [0, 1, 2]
    assert spread(4, 40) == [4, 9, 14, 19, 24, 29, 34, 39]


def test_localization_figure_draws_boxes_and_greys_frames_outside_the_interval(tmp_path: Path) -> None:
    frames = solid(12)
    boxes = [[(4.0, 4.0, 20.0, 20.0)]] * 12
    truth = [[(8.0, 8.0, 28.0, 28.0)]] * 12
    changes = [0.1, 0.01]
    whole = localization_figure(frames, boxes, (0, 12), changes, 4, tmp_path / "whole.png", true_boxes=truth)
    part = localization_figure(frames, boxes, (4, 8), changes, 4, tmp_path / "part.png", true_boxes=truth)
    for path in (whole, part):
        assert count_colour(path, PREDICTED) > 0 and count_colour(path, TRUE) > 0
    # one of the three segment frames keeps its colour when the action is in the middle segment only
    assert 0 < count_colour(part, BLUE) < 0.5 * count_colour(whole, BLUE)


def test_attention_strip_has_a_row_per_map(tmp_path: Path) -> None:
    frames = solid(10, (128, 128, 128))
    maps = np.random.default_rng(0).random((10, 4, 4))
    one = Image.open(attention_strip(frames, {"object": maps}, tmp_path / "one.png", "title"))
    two = Image.open(attention_strip(frames, {"action": maps, "object": maps}, tmp_path / "two.png", "title"))
    assert two.size[0] == one.size[0] and two.size[1] > one.size[1] * 1.2


def test_affordance_figure_tints_masks_and_outlines_contact(tmp_path: Path) -> None:
    frames = solid(6, (0, 0, 0))
    masks = np.zeros((6, 32, 32), bool)
    masks[:, 8:24, 8:24] = True
    contact = np.zeros_like(masks)
    contact[:, 12:20, 12:20] = True
    path = affordance_figure(frames, masks, tmp_path / "aff.png", interval=(1, 5), contact=contact, title="t")
    assert count_colour(path, TRUE) > 0 and count_colour(path, (140, 110, 0), tolerance=25) > 0
    without = affordance_figure(frames, masks, tmp_path / "plain.png")
    assert count_colour(without, TRUE) == 0


def test_an_interval_from_presence_plots_the_presence_not_the_changes(tmp_path: Path) -> None:
    frames, boxes = solid(12), [[(4.0, 4.0, 20.0, 20.0)]] * 12
    rising = [0.1] * 6 + [0.9] * 6

    def pixels(name: str, changes: list[float], presence: list[float] | None) -> np.ndarray:
        return np.asarray(Image.open(localization_figure(frames, boxes, (6, 12), changes, 4, tmp_path / name,
                                                         presence=presence)))

    by_presence = pixels("a.png", [0.1, 0.01], rising)
    assert np.array_equal(by_presence, pixels("b.png", [5.0, 0.0], rising))  # the changes are not drawn
    assert not np.array_equal(by_presence, pixels("c.png", [0.1, 0.01], rising[::-1]))
    assert not np.array_equal(by_presence, pixels("d.png", [0.1, 0.01], None))
