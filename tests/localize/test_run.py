from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from actattn.data.ssv2 import read_labels, read_split
from actattn.data.ssv2_objects import build_object_vocabulary
from actattn.data.synthetic import preset, write_dataset
from actattn.data.video import write_video
from actattn.localize import boxes_from_attention
from actattn.localize.run import (
    FrameGeometry,
    add_localize_parser,
    attention_weights,
    choose_map,
    decode_mask,
    encode_mask,
    frame_attention,
    localize_dataset,
    localize_frames,
    localize_video,
    objects_in_template,
    video_input,
)
from actattn.train import ActionRecognizer

NAMES = ["Pushing something from left to right", "Moving something and something closer to each other",
         "Lifting something up"]
FPS = 12.0


def recognizer(name: str = "dual_attention", class_names: list[str] = NAMES, **head_kwargs) -> ActionRecognizer:
    """An untrained small-CNN model (output stride 8) that reads 32 px short sides."""
    if name == "dual_attention":
        head_kwargs = {"num_objects": 5, "embed_dim": 16, "prior_hidden": 16, "trn_bottleneck": 16, **head_kwargs}
    torch.manual_seed(0)
    return ActionRecognizer(name, len(class_names), backbone="small_cnn", head_kwargs=head_kwargs,
                            class_names=class_names, pipeline={"size": 32}).eval()


def random_frames(num_frames: int, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------- maps of every frame
def test_input_keeps_the_aspect_ratio_without_cropping():
    video = video_input(random_frames(5, 60, 90), 32)
    assert video.shape == (3, 5, 32, 48) and video.dtype == torch.float32
    assert -3 < float(video.min()) < 0 < float(video.max()) < 3  # ImageNet-normalised


@pytest.mark.parametrize("name, kwargs", [("average_pooling", {}), ("attentional_pooling", {}),
                                          ("dual_attention", {"temporal": "tsn"})])
def test_tsn_heads_give_maps_for_all_frames_in_one_forward(name, kwargs):
    module = recognizer(name, **kwargs)
    video = video_input(random_frames(11), 32)  # 32 x 43 input -> 4 x 6 cells at stride 8
    attention = frame_attention(module, video)
    expected = module(video[None]).attention
    assert set(attention.maps) == set(expected)
    for key, maps in attention.maps.items():
        assert maps.shape == (11, 4, 6)
        torch.testing.assert_close(maps, expected[key][0])


def test_trn_dual_attention_gives_maps_for_all_frames():
    module = recognizer(temporal="trn", num_frames=4)
    attention = frame_attention(module, video_input(random_frames(10), 32))
    assert {k: tuple(v.shape) for k, v in attention.maps.items()} == {"action": (10, 4, 6), "object": (10, 4, 6)}
    assert attention.logits["action"].shape == (3,)
    torch.testing.assert_close(attention.maps["object"].sum((-2, -1)), torch.ones(10))


@pytest.mark.parametrize("mode", ["dual", "gt_priors", "self"])
def test_trn_maps_equal_the_heads_own_when_all_frames_fit(mode):
    """With T = num_frames the sampled frames are all frames: the attention module run alone with
    the forward's priors must give exactly the head's maps."""
    module = recognizer(temporal="trn", num_frames=4, mode=mode)
    video = video_input(random_frames(4), 32)
    labels = (2, (1, 4))
    attention = frame_attention(module, video, labels)
    own = module(video[None], action_labels=torch.tensor([2]), object_labels=torch.tensor([[1, 4]]))
    for key in ("action", "object"):
        torch.testing.assert_close(attention.maps[key], own.attention[key][0])
    torch.testing.assert_close(attention.logits["action"], own.logits["action"][0])


def test_ground_truth_priors_need_labels_and_baselines_have_no_maps():
    with pytest.raises(ValueError, match="gt_priors"):
        frame_attention(recognizer(mode="gt_priors"), video_input(random_frames(3), 32))
    with pytest.raises(ValueError, match="no attention maps"):
        frame_attention(recognizer(mode="multitask"), video_input(random_frames(3), 32))


def test_map_choice():
    assert choose_map(["action", "object"]) == "object"
    assert choose_map(["top_down", "combined", "bottom_up"]) == "combined"
    assert choose_map(["top_down"]) == "top_down"
    assert choose_map(["action", "object"], "action") == "action"
    with pytest.raises(ValueError, match="no 'combined' map"):
        choose_map(["action", "object"], "combined")


def test_distributions_pass_through_and_scores_are_softmaxed():
    softmaxed = torch.randn(3, 4, 5).flatten(1).softmax(-1).view(3, 4, 5)
    weights, was_distribution = attention_weights(softmaxed)
    assert was_distribution and torch.equal(weights, softmaxed)
    scores = torch.randn(3, 4, 5)
    weights, was_distribution = attention_weights(scores)
    assert not was_distribution
    torch.testing.assert_close(weights.sum((-2, -1)), torch.ones(3))
    assert torch.equal(weights.flatten(1).argmax(-1), scores.flatten(1).argmax(-1))


def test_objects_come_from_the_templates_placeholders():
    assert [objects_in_template(name) for name in NAMES] == [1, 2, 1]
    assert objects_in_template("Putting number of something onto something") == 2
    assert objects_in_template("brush_hair") == 1


# ------------------------------------------------------------------------------------ geometry
def test_a_feature_cell_maps_back_to_its_pixels_of_the_original_frame():
    """64 x 96 frames seen at 32 x 48 with stride 8: cell (1, 2) covers frame pixels x 32..48, y 16..32."""
    geometry = FrameGeometry((64, 96), (32, 48), 8)
    maps = torch.zeros(1, 4, 6)
    maps[0, 1, 2] = 1.0
    frame_map = geometry.to_frame(maps)
    assert frame_map.shape == (1, 64, 96)
    (x1, y1, x2, y2), = boxes_from_attention(frame_map[0])
    assert 32 <= x1 < x2 <= 48 and 16 <= y1 < y2 <= 32
    assert (x1 + x2) / 2 == pytest.approx(40, abs=1) and (y1 + y2) / 2 == pytest.approx(24, abs=1)


def test_a_grid_that_overhangs_the_input_is_cropped_not_stretched():
    """30 x 45 input at stride 8 has 4 x 6 cells covering 32 x 48 px; the last cell's centre is at
    input (44, 28), frame (88, 56) for 60 x 90 frames; its box is cut by the frame's edge."""
    geometry = FrameGeometry((60, 90), (30, 45), 8)
    maps = torch.zeros(1, 4, 6)
    maps[0, 3, 5] = 1.0
    (x1, y1, x2, y2), = boxes_from_attention(geometry.to_frame(maps)[0])
    assert (x2, y2) == (90, 60)
    assert x1 == pytest.approx(88 - 0.4 * 16, abs=1) and y1 == pytest.approx(56 - 0.4 * 16, abs=1)
    with pytest.raises(ValueError, match=r"expected a \(4, 6\) grid"):
        geometry.to_frame(torch.zeros(1, 4, 5))


def test_model_boxes_and_masks_lie_on_the_original_frames():
    frames = random_frames(9, 48, 80)
    video = localize_frames(recognizer("attentional_pooling"), frames, FPS)
    loc = video.localization
    assert len(loc.boxes) == len(loc.scores) == 9 and loc.affordance.shape == (9, 48, 80)
    boxes = np.array([box for frame in loc.boxes for box in frame])
    assert (boxes[:, [0, 1]] >= 0).all() and (boxes[:, 2] <= 80).all() and (boxes[:, 3] <= 48).all()
    assert video.map_key == "combined" and video.softmaxed


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own use of numpy
def test_masks_round_trip_through_coco_rle():
    mask = np.random.default_rng(0).random((7, 5)) > 0.5
    for mask in (mask, ~mask, np.ones((3, 4), bool), np.zeros((3, 4), bool)):
        rle = encode_mask(mask)
        assert rle["size"] == list(mask.shape) and sum(rle["counts"]) == mask.size
        np.testing.assert_array_equal(decode_mask(rle), mask)
        coco = coco_mask.frPyObjects(rle, *mask.shape)
        np.testing.assert_array_equal(coco_mask.decode(coco).astype(bool), mask)


# ---------------------------------------------------------------------------- files and the CLI
@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """Three 2 s `tiny` SynthHOI scenes in Something-Something V2 layout, with ground truth."""
    root = tmp_path_factory.mktemp("synth-localize")
    write_dataset(root, preset("tiny", num_frames=24), seed=0, counts={"validation": 3}, workers=1, progress=False)
    return root


def synth_model(root: Path, **head_kwargs) -> tuple[ActionRecognizer, object]:
    labels = read_labels(root / "something-something-v2-labels.json")
    vocabulary = build_object_vocabulary(read_split(root / "something-something-v2-validation.json", labels))
    names = sorted(labels, key=labels.__getitem__)
    return recognizer(class_names=names, num_objects=len(vocabulary), **head_kwargs), vocabulary


def test_dataset_localization_writes_json_pictures_and_scores(synth_root: Path, tmp_path: Path):
    module, vocabulary = synth_model(synth_root, mode="gt_priors")
    scores = localize_dataset(module, synth_root, tmp_path, count=2, objects=vocabulary, progress=False)
    assert set(scores.as_dict()) == {"box_ap@0.3", "box_ap@0.4", "box_ap@0.5", "temporal_iou", "mask_iou"}
    assert all(0 <= value <= 1 for value in scores.as_dict().values())
    report = json.loads((tmp_path / "localization.json").read_text())
    assert report["scores"] == pytest.approx(scores.as_dict())
    assert "ground-truth labels" in report["affordance_map"]
    assert [clip["id"] for clip in report["clips"]] == ["1", "2"]
    for clip in report["clips"]:
        truth = np.load(synth_root / "groundtruth" / f"{clip['id']}.npz")
        assert len(clip["frames"]) == 24 and clip["frame_size"] == [64, 64] and clip["map"] == "object"
        assert clip["true"]["label"] == int(truth["label"])
        start, end = truth["interval"]
        assert all(start <= t < end for t in clip["scores"]["evaluation_frames"])
        for frame in clip["frames"]:
            assert len(frame["boxes"]) == len(frame["scores"]) >= 1
            assert all(0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64 for x1, y1, x2, y2 in frame["boxes"])
            assert decode_mask(frame["affordance"]).shape == (64, 64)
        for kind in ("attention", "localization", "affordance"):
            assert (tmp_path / "pictures" / f"{clip['id']}-{kind}.png").stat().st_size > 0


def test_clips_without_ground_truth_are_localised_but_not_scored(synth_root: Path, tmp_path: Path):
    split = tmp_path / "data" / "split.json"
    split.parent.mkdir()
    shutil.copy(synth_root / "something-something-v2-validation.json", split)
    (tmp_path / "data" / "videos").symlink_to(synth_root / "videos")
    module, _ = synth_model(synth_root)
    assert localize_dataset(module, split, tmp_path / "out", count=1, progress=False) is None
    report = json.loads((tmp_path / "out" / "localization.json").read_text())
    assert report["scores"] is None and len(report["clips"]) == 1 and "scores" not in report["clips"][0]
    assert "own predictions" in report["affordance_map"]


def test_one_video_and_the_cli(synth_root: Path, tmp_path: Path, capsys):
    module, _ = synth_model(synth_root, temporal="trn", num_frames=4)
    path = tmp_path / "clip.mp4"
    write_video(path, random_frames(14, 48, 64), fps=FPS)
    record = localize_video(module, path, tmp_path / "one")
    assert len(record["frames"]) == 14 and record["frame_size"] == [48, 64] and record["fps"] == FPS
    assert json.loads((tmp_path / "one" / "localization.json").read_text())["clips"][0]["id"] == "clip"
    assert (tmp_path / "one" / "pictures" / "clip-localization.png").is_file()

    trainer = L.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    parser = argparse.ArgumentParser()
    add_localize_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["localize", "--checkpoint", str(tmp_path / "model.ckpt"), "--data", str(synth_root),
                              "--out", str(tmp_path / "cli"), "--count", "1", "--map", "action"])
    args.func(args)
    printed = capsys.readouterr().out
    assert "box_ap@0.5" in printed and "temporal_iou" in printed
    assert json.loads((tmp_path / "cli" / "localization.json").read_text())["clips"][0]["map"] == "action"
    with pytest.raises(SystemExit):
        parser.parse_args(["localize", "--checkpoint", "c", "--data", "d", "--video", "v", "--out", "o"])
