"""actattn.data.object_sources: Something-Else boxes, the SynthHOI oracle, detection caches, and the
data module reading each."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from actattn.data.datamodule import VideoDataModule
from actattn.data.object_slots import paste_objects
from actattn.data.object_sources import (
    COCO_CLASSES,
    COCO_INDEX,
    SOMETHING_ELSE_CLASSES,
    SYNTHHOI_CLASSES,
    DetectionObjects,
    SomethingElseObjects,
    SynthHOIObjects,
    nearest_frames,
    read_something_else_boxes,
)
from actattn.data.objects import ObjectSourceError
from actattn.data.synthetic.write import load_groundtruth
from actattn.data.video import write_video
from actattn.detect import PERSON, DetectSettings, Detections, MaskDetector, detect_folder, list_videos

SOMETHING_ELSE = Path(__file__).resolve().parents[3] / "shared" / "annotations" / "something-else"
BOX_FILES = [SOMETHING_ELSE / "annotations.json", SOMETHING_ELSE / "real2sim" / "something_else_annots.json"]
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def box_files() -> list[Path]:
    if not all(path.is_file() for path in BOX_FILES):
        pytest.skip(f"the shared Something-Else excerpt is not at {SOMETHING_ELSE}")
    return BOX_FILES


def _pasted(objects: dict, size: tuple[int, int], grid: int) -> tuple[torch.Tensor, torch.Tensor]:
    return paste_objects(objects["object_boxes"], objects["object_box_masks"], objects["object_classes"], size, grid)


# ---------------------------------------------------------------------------------- Something-Else
def test_something_else_excerpt_hands_first_roles_as_classes(box_files):
    videos = read_something_else_boxes(box_files[0])
    assert set(videos) == {"151201", "3201"}
    video = videos["151201"]
    assert video.frames.tolist() == list(range(23))  # 0001.jpg .. 0023.jpg -> decoded frames 0 .. 22
    first = video.frame(0)
    assert [SOMETHING_ELSE_CLASSES[c] for c in first.classes] == ["hand", "object 0"]
    # the file lists the object first; its box2d keys are y1, y2, x1, x2
    np.testing.assert_allclose(first.boxes[1], [16.574585635359114, 95.4696132596685, 137.23756906077347,
                                                178.5635359116022], rtol=1e-6)
    assert {SOMETHING_ELSE_CLASSES[c] for c in videos["3201"].classes} == {"object 0"}  # no hand in this video


def test_something_else_source_nearest_frame_and_scaling(box_files):
    source = SomethingElseObjects(box_files)
    assert source.num_classes == len(SOMETHING_ELSE_CLASSES) == 5
    full = source.read("151201", [0, 22, 30], (240, 427), RNG)
    half = source.read("151201", [0, 22, 30], (120, 214), RNG)
    assert full["object_classes"].shape == (3, 2)
    assert full["object_box_masks"][full["object_classes"] >= 0].min() == 1  # box-shaped
    np.testing.assert_allclose(half["object_boxes"], full["object_boxes"] / 2, rtol=1e-6)
    np.testing.assert_array_equal(full["object_boxes"][2], full["object_boxes"][1])  # past the annotations: the last
    assert set(source.videos) == {"151201", "3201", "7194", "11790"}
    with pytest.raises(ObjectSourceError, match="video 999: no Something-Else boxes"):
        source.read("999", [0], (240, 427), RNG)
    with pytest.raises(ValueError, match="video 151201 is in both"):
        SomethingElseObjects([box_files[0], box_files[0]])


def test_something_else_gaps_take_the_nearest_annotated_frame(box_files, tmp_path):
    data = json.loads(box_files[0].read_text(encoding="utf-8"))
    frames = data["151201"]
    data["151201"] = frames[:4] + frames[10:]  # 0001-0004, then 0011-0023
    (tmp_path / "gaps.json").write_text(json.dumps(data), encoding="utf-8")
    available = read_something_else_boxes(tmp_path / "gaps.json")["151201"].frames
    assert available[:5].tolist() == [0, 1, 2, 3, 10]
    assert nearest_frames(available, [2, 5, 6, 7, 8, 40]).tolist() == [2, 3, 3, 4, 4, len(available) - 1]  # 6: tie


@pytest.mark.parametrize("edit, problem", [
    (lambda f: f["labels"][0].update(standard_category="cup"), "label 0: needs 'box2d' and a 'standard_category'"),
    (lambda f: f["labels"][0]["box2d"].pop("x1"), "box2d x1 must be a number"),
    (lambda f: f.update(name="3201/0001.jpg"), "is not '151201/NNNN.jpg'"),
    (lambda f: f.pop("labels"), "a frame must be an object with 'name' and 'labels'"),
])
def test_malformed_something_else_rows_name_file_video_and_frame(box_files, tmp_path, edit, problem):
    data = json.loads(box_files[0].read_text(encoding="utf-8"))
    edit(data["151201"][3])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad.json: video 151201: .*{problem}"):
        read_something_else_boxes(path)


# -------------------------------------------------------------------------------------------- SynthHOI
def test_synthhoi_oracle_gives_the_hand_first_and_the_ground_truth_masks(tiny_synth):
    source = SynthHOIObjects(tiny_synth / "groundtruth")
    assert source.classes == SYNTHHOI_CLASSES and source.classes[-1] == "hand"
    truth = load_groundtruth(tiny_synth / "groundtruth" / "1.npz")
    size = truth["masks"].shape[-1]
    objects = source.read("1", [0, 3, 7], (size, size), RNG)
    masks, classes = _pasted(objects, (size, size), size)  # a grid of the frame's own pixels
    for t, frame in enumerate([0, 3, 7]):
        full = np.concatenate([truth["arm_masks"][frame][None], truth["masks"][frame]])
        names = np.concatenate([[len(SYNTHHOI_CLASSES) - 1], truth["categories"]])
        visible = full.any((1, 2))
        assert classes[t, : visible.sum()].tolist() == names[visible].tolist()
        got, want = masks[t, : visible.sum()] > 0.5, torch.from_numpy(full[visible])
        iou = (got & want).sum((1, 2)) / (got | want).sum((1, 2))
        assert bool((iou > 0.8).all()), iou
    with pytest.raises(ObjectSourceError, match="999.npz: no SynthHOI ground truth"):
        source.read("999", [0], (size, size), RNG)


def test_a_frame_without_objects_has_only_empty_slots(tmp_path):
    Detections(frames=np.array([0, 1]), counts=np.array([2, 0]), labels=np.array([PERSON, 3]),
               scores=np.array([0.9, 0.8], np.float32), boxes=np.array([[0, 0, 10, 10], [5, 5, 20, 20]], np.float32),
               masks=np.full((2, 28, 28), 255, np.uint8), rle=None, image_size=(32, 32),
               settings=DetectSettings().to_json()).save(tmp_path / "v.npz")
    objects = DetectionObjects(tmp_path).read("v", [0, 1], (32, 32), RNG)
    masks, classes = _pasted(objects, (32, 32), 8)
    assert classes.tolist() == [[COCO_CLASSES.index("person"), COCO_CLASSES.index("car")], [-1, -1]]
    assert masks[1].eq(0).all() and masks[0].sum() > 0
    with pytest.raises(ObjectSourceError, match="missing.npz: no detection cache"):
        DetectionObjects(tmp_path).read("missing", [0], (32, 32), RNG)


# ---------------------------------------------------------------------------------- detection caches
@pytest.fixture(scope="module")
def detected(tmp_path_factory) -> Path:
    """``actattn detect`` (random weights) over two 4-frame 48x64 videos, in box and RLE format."""
    root, rng = tmp_path_factory.mktemp("detected"), np.random.default_rng(5)
    for name in ("a", "b"):
        write_video(root / "videos" / f"{name}.mp4", rng.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8))
    detector = MaskDetector("v1", "random", 0.5, 4, min_size=64, max_size=64)
    for mask_format in ("box", "rle"):
        settings = DetectSettings(weights="random", min_score=0.5, max_objects=4, mask_format=mask_format,
                                  min_size=64, max_size=64)
        detect_folder(list_videos(root / "videos"), root / mask_format, detector, settings, progress=False)
    return root


def test_detection_source_reads_what_actattn_detect_wrote(detected):
    cache = Detections.load(detected / "box" / "a.npz")
    assert cache.counts.sum() > 0, "random weights should keep a few instances"
    objects = DetectionObjects(detected / "box").read("a", [0, 1, 2, 3], (48, 64), RNG)
    starts = np.concatenate([[0], np.cumsum(cache.counts)])
    kept = []
    for t in range(4):
        want = COCO_INDEX[cache.labels[starts[t] : starts[t + 1]]]
        valid = want >= 0  # a random detector also gives torchvision's "N/A" indices: dropped
        got = objects["object_classes"][t]
        assert got[: valid.sum()].tolist() == want[valid].tolist() and (got[valid.sum() :] == -1).all()
        np.testing.assert_array_equal(objects["object_boxes"][t, : valid.sum()],
                                      cache.boxes[starts[t] : starts[t + 1]][valid])
        kept.append(valid.sum())
    assert objects["object_classes"].shape == (4, max(1, *kept)) and max(kept) > 0
    assert objects["object_classes"].max() < len(COCO_CLASSES) == 80
    rle = DetectionObjects(detected / "rle").read("a", [0, 1, 2, 3], (48, 64), RNG)
    np.testing.assert_array_equal(rle["object_classes"], objects["object_classes"])
    box_masks, _ = _pasted(objects, (48, 64), 16)
    rle_masks, _ = _pasted(rle, (48, 64), 16)
    assert (box_masks - rle_masks).abs().mean() < 0.05  # the same instance masks in both formats


# ------------------------------------------------------------------------------------- the data module
def _tiny_module(tiny_synth: Path, **kwargs) -> VideoDataModule:
    return VideoDataModule("ssv2", train_file=tiny_synth / "something-something-v2-train.json",
                           val_file=tiny_synth / "something-something-v2-validation.json",
                           labels_file=tiny_synth / "something-something-v2-labels.json",
                           video_dir=tiny_synth / "videos", video_ext=".mp4",
                           groundtruth_dir=tiny_synth / "groundtruth",
                           num_segments=3, size=48, batch_size=4, **kwargs)


def test_datamodule_batches_carry_synthhoi_objects_with_noise(tiny_synth):
    dm = _tiny_module(tiny_synth, object_source="synthhoi", object_mask_size=12, flip=True,
                      object_noise={"miss": 0.2, "false_positive": 0.5})
    dm.setup("fit")
    assert dm.head_facts == {"num_object_classes": len(SYNTHHOI_CLASSES)}
    batch = next(iter(dm.train_dataloader()))
    masks, classes = batch["object_masks"], batch["object_classes"]
    assert masks.shape[:3] == classes.shape and masks.shape[0] == 4 and masks.shape[1] == 3
    assert masks.shape[3:] == (12, 12) and masks.dtype == torch.float32 and classes.dtype == torch.int64
    assert masks.min() >= 0 and masks.max() <= 1 and classes.min() >= -1 and classes.max() < len(SYNTHHOI_CLASSES)
    assert masks[classes < 0].eq(0).all() and (masks[classes >= 0].flatten(1).amax(1) > 0).all()
    again = dm.datasets["train"][(1, 0)]
    torch.testing.assert_close(again["object_masks"], dm.datasets["train"][(1, 0)]["object_masks"])
    val = next(iter(dm.val_dataloader()))
    assert val["object_masks"].shape[-2:] == (12, 12)


def test_datamodule_reads_detections_and_skips_videos_without_a_cache(detected, tmp_path):
    write_video(tmp_path / "c.mp4", RNG.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8))
    videos = [detected / "videos" / "a.mp4", detected / "videos" / "b.mp4", tmp_path / "c.mp4"]
    (tmp_path / "list.csv").write_text("".join(f"{video},0\n" for video in videos), encoding="utf-8")
    dm = VideoDataModule("csv", train_file=tmp_path / "list.csv", val_file=tmp_path / "list.csv",
                         object_source="detections", detections_dir=detected / "box",
                         num_segments=2, size=32, batch_size=3, skip_bad_videos=True)
    dm.setup("fit")
    assert dm.head_facts == {"num_object_classes": 80}
    with pytest.warns(UserWarning, match="c.npz: no detection cache"):
        batch = next(iter(dm.val_dataloader()))
    assert batch["skipped"] == 1 and batch["object_masks"].shape[:2] == (2, 2)


def test_datamodule_something_else_boxes_on_small_videos(box_files, tmp_path):
    for video_id in ("151201", "3201"):  # 120 px high: the boxes of the 240-px frames are halved
        write_video(tmp_path / f"{video_id}.mp4", RNG.integers(0, 256, (6, 120, 214, 3), dtype=np.uint8))
    (tmp_path / "list.csv").write_text("151201.mp4,0\n3201.mp4,1\n", encoding="utf-8")
    dm = VideoDataModule("csv", val_file=tmp_path / "list.csv", object_source="something_else",
                         something_else_files=box_files, num_segments=2, size=64, batch_size=2)
    dm.setup("validate")
    assert dm.head_facts == {"num_object_classes": len(SOMETHING_ELSE_CLASSES)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = next(iter(dm.val_dataloader()))
    assert batch["object_classes"].shape == (2, 2, 2)
    # 151201: the hand (x 0-32 of 427) lies left of the centre crop and leaves with it; 3201: one object, no hand
    assert batch["object_classes"][0, 0].tolist() == [-1, 1] and batch["object_masks"][0, 0, 0].eq(0).all()
    assert batch["object_classes"][1, :, 0].eq(1).all() and batch["object_classes"][1, :, 1].eq(-1).all()


def test_bad_object_arguments(tiny_synth):
    with pytest.raises(ValueError, match="object_source must be one of"):
        _tiny_module(tiny_synth, object_source="yolo")
    with pytest.raises(ValueError, match="object_noise"):
        _tiny_module(tiny_synth, object_source="synthhoi", object_noise={"miss": 2})
    dm = _tiny_module(tiny_synth, object_source="detections")
    with pytest.raises(ValueError, match="'detections' needs detections_dir"):
        dm.setup("fit")
