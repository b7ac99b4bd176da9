from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actattn.heads import AttentionalPooling, AveragePooling, DualAttention
from actattn.viz import attention_animation, attention_columns, attention_figure, denormalize, overlay
from actattn.viz.overlay import IMAGENET_MEAN, IMAGENET_STD, normalize_map


def test_overlay_puts_the_heat_where_the_map_peaks() -> None:
    frame = np.full((32, 32, 3), 128, np.uint8)
    attention = np.zeros((4, 4))
    attention[0, 3] = 1.0
    out = overlay(frame, attention, cmap="jet")
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert out[2, 29, 0] > out[29, 2, 0]  # jet's hot end is red: top-right red, bottom-left blue
    assert out[29, 2, 2] > out[29, 2, 0]


def test_normalize_map_rejects_nan_and_handles_constant_maps() -> None:
    with pytest.raises(ValueError, match="NaN"):
        normalize_map(np.array([[np.nan, 1.0]]))
    assert (normalize_map(np.ones((3, 3))) == 0).all()


def test_denormalize_inverts_imagenet_normalisation() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    video = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255
    video = (video - torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    np.testing.assert_array_equal(denormalize(video), frames)


def test_columns_follow_the_papers_figure_2() -> None:
    """Bottom-up, then top-down and combined for the ground-truth and the lowest-scoring class."""
    head = AttentionalPooling(8, 3).eval()
    out = head(torch.randn(2, 4, 8, 5, 5), class_maps=True)
    names = ["a", "b", "c"]
    titles = [title for title, _ in attention_columns(out, 1, names, target=2)]
    lowest = names[int(out.logits["action"][1].argmin())]
    assert titles == ["top_down [GT: c]", f"top_down [lowest: {lowest}]", "combined [GT: c]",
                      f"combined [lowest: {lowest}]", "bottom_up"]
    maps = attention_columns(out, 1, names, target=2)
    torch.testing.assert_close(torch.from_numpy(maps[0][1]), out.aux["top_down"][1, :, 2])


def test_without_class_maps_the_columns_are_the_predicted_class_maps() -> None:
    head = AttentionalPooling(8, 3).eval()
    feats = torch.randn(2, 4, 8, 5, 5)
    columns = attention_columns(head(feats), 1, ["a", "b", "c"], target=2)
    assert [title for title, _ in columns] == ["top_down", "combined", "bottom_up"]
    predicted = int(head(feats).logits["action"][1].argmax())
    expected = head(feats, class_maps=True).aux["top_down"][1, :, predicted]
    torch.testing.assert_close(torch.from_numpy(columns[0][1]), expected)


@pytest.mark.parametrize(("head", "columns"), [
    (AveragePooling(8, 3), 2),  # top_down for GT and lowest
    (AttentionalPooling(8, 3, class_specific=True), 6),  # top_down, combined, bottom_up, each for GT and lowest
    (DualAttention(8, 3, 4, mode="self"), 2),  # action, object: no per-class maps
])
def test_every_head_takes_the_pictures_request_for_class_maps(head: torch.nn.Module, columns: int) -> None:
    """``write_pictures`` and ``predict_video`` pass ``class_maps=True`` to whichever head the model has."""
    out = head.eval()(torch.randn(1, 2, 8, 3, 3), class_maps=True)
    assert len(attention_columns(out, 0, ["a", "b", "c"], target=0)) == columns


def test_figure_and_animation_files(tmp_path: Path) -> None:
    head = AveragePooling(8, 3).eval()
    out = head(torch.randn(1, 3, 8, 4, 4), class_maps=True)
    frames = np.zeros((3, 24, 24, 3), np.uint8)
    columns = attention_columns(out, 0, ["a", "b", "c"])
    png = attention_figure(frames, columns, tmp_path / "f.png", "title")
    gif = attention_animation(frames, columns, tmp_path / "f.gif")
    assert Image.open(png).size[0] > 0
    with Image.open(gif) as animation:
        assert animation.n_frames == 3 and animation.size == (24 * (1 + len(columns)), 24)
