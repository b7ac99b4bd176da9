import pytest
import torch

from actattn.data.synthetic import preset, render_scene_for_label
from actattn.localize.evaluate import GroundTruth
from actattn.localize.interpret import (
    InterpretabilityScores,
    attention_weights,
    cell_coverage,
    cells_in_boxes,
    clip_interpretability,
    interpretability,
    pool_scores,
)
from actattn.localize.spatial import FrameGeometry

# 64 px frames seen as they are at stride 8: an 8 x 8 grid of 8 px cells, centres at 4, 12, ..., 60
PLAIN = FrameGeometry((64, 64), (64, 64), 8)
BOX = (16.0, 16.0, 32.0, 32.0)  # cells 2..3; grown by 4 px it holds the centres of cells 1..4


def peaked(cells: list[tuple[int, int]], grid: tuple[int, int] = (8, 8), height: float = 30.0) -> torch.Tensor:
    """Unnormalised maps (T, h, w), one frame per cell, each `height` at that cell and 0 elsewhere."""
    maps = torch.zeros(len(cells), *grid)
    for t, (i, j) in enumerate(cells):
        maps[t, i, j] = height
    return maps


def test_a_map_peaked_inside_a_box_scores_one():
    scores = interpretability(peaked([(2, 3)]), PLAIN, [[BOX]], (0, 1))
    assert scores.pointing_game == 1.0
    assert scores.mass_in_box == pytest.approx(1.0, abs=1e-9)
    assert scores.uniform == 16 / 64 and scores.frames == 1


def test_a_map_peaked_outside_the_boxes_scores_zero():
    scores = interpretability(peaked([(7, 7)]), PLAIN, [[BOX]], (0, 1))
    assert scores.pointing_game == 0.0
    assert scores.mass_in_box == pytest.approx(0.0, abs=1e-9)


def test_a_uniform_map_scores_the_uniform_baseline():
    boxes = [[BOX], [(0.0, 0.0, 8.0, 8.0), (48.0, 48.0, 64.0, 64.0)]]  # 2 x 2 and 3 x 3 grown cells
    scores = interpretability(torch.zeros(2, 8, 8), PLAIN, boxes, (0, 2))
    assert scores.uniform == pytest.approx((16 / 64 + (4 + 9) / 64) / 2, abs=1e-12)
    assert scores.mass_in_box == pytest.approx(scores.uniform, abs=1e-12)
    assert scores.pointing_game == pytest.approx(scores.uniform, abs=1e-12)  # ties shared among the max cells


def test_a_peak_within_half_a_cell_of_the_box_counts():
    cell = (16.0, 16.0, 24.0, 24.0)  # exactly cell (2, 2): grown to [12, 28], centres of cells 1..3
    hits = [interpretability(peaked([c]), PLAIN, [[cell]], (0, 1)).pointing_game for c in [(3, 3), (1, 2), (4, 4)]]
    assert hits == [1.0, 1.0, 0.0]
    speck = (17.0, 17.0, 19.0, 19.0)  # inside cell (2, 2), not holding its centre 20
    assert interpretability(peaked([(2, 2)]), PLAIN, [[speck]], (0, 1)).pointing_game == 1.0


def test_frames_outside_the_interval_or_without_boxes_are_ignored():
    maps = peaked([(7, 7), (2, 2), (7, 7), (7, 7)])  # only frame 1 points at its box
    scores = interpretability(maps, PLAIN, [[BOX], [BOX], [], [BOX]], (1, 4))
    assert scores.frames == 2 and scores.pointing_game == 0.5
    assert interpretability(maps, PLAIN, [[BOX], [BOX], [], [BOX]], (1, 3)).pointing_game == 1.0
    with pytest.raises(ValueError, match="no frame of the interval"):
        interpretability(maps, PLAIN, [[BOX], [], [], [BOX]], (1, 3))


def test_cells_map_to_the_original_frame_through_the_resize():
    # 96 px frames resized to 64 px, stride 8: 12 px cells, centres at 6, 18, ..., 90
    resized = FrameGeometry((96, 96), (64, 64), 8)
    box = (36.0, 36.0, 48.0, 48.0)  # cell (3, 3); grown by 6 px it holds the centres 30, 42, 54 of cells 2..4
    hits = [interpretability(peaked([c]), resized, [[box]], (0, 1)).pointing_game for c in [(3, 3), (4, 2), (5, 3)]]
    assert hits == [1.0, 1.0, 0.0]
    assert cells_in_boxes([box], resized)[2:5, 2:5].all() and cells_in_boxes([box], resized).sum() == 9
    # a wide frame: cells 8 px high, 16 px wide; the box grown by 4 px and 8 px holds rows 0..1 and columns 0..1
    wide = cells_in_boxes([(0.0, 0.0, 16.0, 8.0)], FrameGeometry((64, 128), (64, 64), 8))
    assert wide[:2, :2].all() and wide.sum() == 4


def test_cell_coverage_is_the_share_of_each_cell_a_box_covers():
    coverage = cell_coverage([(12.0, 16.0, 32.0, 20.0)], PLAIN)  # columns 1.5..4, half of row 2
    assert coverage[2, 1] == 0.25 and (coverage[2, 2:4] == 0.5).all() and coverage.sum() == 1.25
    assert coverage.sum() * 8 * 8 == 20 * 4  # the cells' covered pixels add up to the box's area
    overlapping = cell_coverage([(0.0, 0.0, 8.0, 8.0), (4.0, 0.0, 12.0, 8.0)], PLAIN)
    assert overlapping[0, 0] == 1.0 and overlapping[0, 1] == 0.5  # the most any one box covers, not the sum
    # 96 px frames resized to 64 px: 12 px cells, so a 12 px box covers one cell in full
    resized = cell_coverage([(36.0, 36.0, 48.0, 48.0)], FrameGeometry((96, 96), (64, 64), 8))
    assert resized[3, 3] == 1.0 and resized.sum() == 1.0
    assert not cell_coverage([], PLAIN).any()


def test_distributions_are_used_as_they_are():
    weights = torch.zeros(1, 8, 8)
    weights[0, 2, 2], weights[0, 7, 7] = 0.3, 0.7
    scores = interpretability(weights, PLAIN, [[BOX]], (0, 1))
    assert scores.mass_in_box == pytest.approx(0.3, abs=1e-7) and scores.pointing_game == 0.0
    assert attention_weights(weights)[1] == "as returned" != attention_weights(weights * 2)[1]
    assert attention_weights(weights * 2)[0].sum().item() == pytest.approx(1.0)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"expected \(T, 8, 8\)"):
        interpretability(torch.zeros(1, 4, 4), PLAIN, [[BOX]], (0, 1))
    with pytest.raises(ValueError, match="1 maps but boxes of 2 frames"):
        interpretability(torch.zeros(1, 8, 8), PLAIN, [[BOX], [BOX]], (0, 1))
    with pytest.raises(ValueError, match="not a non-empty range"):
        interpretability(torch.zeros(1, 8, 8), PLAIN, [[BOX]], (0, 2))


def test_clips_pool_weighted_by_their_frames():
    pooled = pool_scores([InterpretabilityScores(1.0, 0.8, 0.2, 1), InterpretabilityScores(0.0, 0.4, 0.6, 3)])
    assert (pooled.pointing_game, pooled.mass_in_box, pooled.uniform) == pytest.approx((0.25, 0.5, 0.5))
    assert pooled.frames == 4
    assert pooled.as_dict().keys() == {"pointing_game", "mass_in_box", "pointing_game_uniform", "mass_in_box_uniform"}
    with pytest.raises(ValueError, match="no clip scores"):
        pool_scores([])


def test_a_map_on_the_manipulated_object_of_a_synthhoi_scene_points_at_it():
    scene = render_scene_for_label(preset("tiny"), 3, 2)  # "Lifting [something] up", 64 px, 8 frames
    truth = GroundTruth.from_arrays(vars(scene), "scene")
    centres = []
    for t in range(len(scene.frames)):
        boxes = truth.frame_boxes(t) or [(0.0, 0.0, 8.0, 8.0)]
        x1, y1, x2, y2 = boxes[0]
        centres.append((int((y1 + y2) / 2 // 8), int((x1 + x2) / 2 // 8)))
    scores = clip_interpretability(peaked(centres), PLAIN, truth)
    start, end = truth.interval
    assert scores.pointing_game == 1.0 and scores.mass_in_box > 0.99
    assert scores.frames == sum(bool(truth.interaction_boxes(t)) for t in range(start, end)) > 0
    assert 0.0 < scores.uniform < 1.0
