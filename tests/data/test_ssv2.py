"""actattn.data.ssv2 on the real Something-Something V2 excerpt, malformed files, and the dataset."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from actattn.data.ssv2 import SomethingSomethingV2, class_name, read_labels, read_split
from actattn.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform, train_transform
from actattn.data.video import VideoDecodeError, write_video

EXCERPT = Path(__file__).resolve().parents[3] / "shared" / "annotations" / "something-something-v2"
LABELS = EXCERPT / "something-something-v2-labels.json"
VALIDATION = EXCERPT / "something-something-v2-validation.json"
TEST = EXCERPT / "something-something-v2-test.json"


@pytest.fixture(scope="module")
def labels():
    if not LABELS.is_file():
        pytest.skip(f"the shared SSv2 excerpt is not at {EXCERPT}")
    return read_labels(LABELS)


def test_real_labels(labels):
    assert len(labels) == 174
    assert sorted(labels.values()) == list(range(174))
    assert labels["Approaching something with your camera"] == 0
    assert b'"0"' in LABELS.read_bytes()  # ids are stored as strings


def test_real_validation_entries_resolve(labels):
    raw = VALIDATION.read_bytes()
    assert b"\r\n" in raw  # the excerpt really has CRLF line endings
    entries = read_split(VALIDATION, labels)
    assert len(entries) == 200
    assert entries[0].id == "74225" and entries[-1].id == "36585"
    assert entries[0].label == labels["Spinning something that quickly stops spinning"]
    assert entries[-1].template == "[Something] falling like a feather or paper"
    assert entries[-1].label == labels["Something falling like a feather or paper"]
    assert all(isinstance(e.id, str) and 0 <= e.label < 174 for e in entries)
    assert set(Counter(len(e.placeholders) for e in entries)) == {1, 2, 3}
    assert all(e.template.count("[") == len(e.placeholders) for e in entries)
    assert entries[1].placeholders == ["clay box", "wallet"]


def test_real_test_entries_are_unlabelled(labels):
    entries = read_split(TEST, labels)
    assert len(entries) == 101
    assert entries[0].id == "1420" and entries[-1].id == "215493"
    assert all(e.label is None and e.template is None and e.placeholders == [] for e in entries)


def test_class_name_strips_brackets():
    assert class_name("Putting [something] on [something soft]") == "Putting something on something soft"


def _write_json(path: Path, items, newline="\n") -> Path:
    text = "[" + newline + ("," + newline).join(json.dumps(i, ensure_ascii=False) for i in items) + newline + "]"
    path.write_bytes(text.encode("utf-8"))
    return path


SMALL_LABELS = {
    "Pushing something from left to right": 0,
    "Pushing something from right to left": 1,
    "Lifting something up": 2,
}


def _good(entry_id: str, template: str = "Lifting [something] up") -> dict:
    return {"id": entry_id, "label": "lifting x up", "template": template, "placeholders": ["x"]}


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"template": "Lifting [something] up", "placeholders": ["x"]}, "'id' must be a non-empty string"),
        ({"id": 7, "template": "Lifting [something] up", "placeholders": ["x"]}, "'id' must be a non-empty string"),
        (_good("9", "Juggling [something]"), "unknown template 'Juggling \\[something\\]'"),
        ({"id": "9", "template": "Lifting [something] up", "placeholders": "x"}, "'placeholders' must be a list"),
        ({"id": "9", "template": 3}, "'template' must be a string"),
        ({"id": "9"}, "has no template"),
        ("9", "expected an object"),
    ],
)
def test_malformed_entry_names_file_position_and_problem(tmp_path, bad, problem):
    path = _write_json(tmp_path / "split.json", [_good("1"), bad, _good("3")], newline="\r\n")
    with pytest.raises(ValueError, match=f"split.json: entry 1 \\(0-based\\): .*{problem}"):
        read_split(path, SMALL_LABELS)


def test_skip_malformed_warns_once_with_count(tmp_path):
    items = [_good("1"), {"id": 2}, _good("3", "Juggling [something]"), _good("4")]
    path = _write_json(tmp_path / "split.json", items)
    with pytest.warns(UserWarning, match="skipped 2 malformed entries") as caught:
        entries = read_split(path, SMALL_LABELS, skip_malformed=True)
    assert len(caught) == 1
    assert [e.id for e in entries] == ["1", "4"]


def test_utf8_and_bad_files(tmp_path):
    entry = _good("113563") | {"placeholders": ["taschentücher"]}
    assert read_split(_write_json(tmp_path / "utf8.json", [entry]), SMALL_LABELS)[0].placeholders == ["taschentücher"]
    (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        read_split(tmp_path / "broken.json", SMALL_LABELS)
    (tmp_path / "gap.json").write_text('{"a": "0", "b": "2"}', encoding="utf-8")
    with pytest.raises(ValueError, match="gap.json: class ids must be 0..1"):
        read_labels(tmp_path / "gap.json")
    (tmp_path / "word.json").write_text('{"a": "zero"}', encoding="utf-8")
    with pytest.raises(ValueError, match="word.json: class 'a' has id 'zero'"):
        read_labels(tmp_path / "word.json")


@pytest.fixture(scope="module")
def tiny_ssv2(tmp_path_factory):
    """Three 10-frame 64x64 videos in SSv2 layout (frame t has brightness 20 * t) with keypoints."""
    root = tmp_path_factory.mktemp("ssv2")
    (root / "labels.json").write_text(json.dumps({k: str(v) for k, v in SMALL_LABELS.items()}), encoding="utf-8")
    templates = [name.replace("something", "[something]") for name in SMALL_LABELS]
    _write_json(root / "train.json", [_good(str(i), t) for i, t in zip((10, 11, 12), templates)], newline="\r\n")
    frames = np.broadcast_to((20 * np.arange(10, dtype=np.uint8))[:, None, None, None], (10, 64, 64, 3))
    for i in (10, 11, 12):
        write_video(root / "videos" / f"{i}.mp4", np.ascontiguousarray(frames))
        keypoints = np.zeros((10, 2, 3), dtype=np.float32)
        keypoints[:, 0] = np.stack([np.arange(10) + 0.5, np.full(10, 32.0), np.ones(10)], axis=1)  # x = t + 0.5
        (root / "groundtruth").mkdir(exist_ok=True)
        np.savez(root / "groundtruth" / f"{i}.npz", keypoints=keypoints)
    return root


def _dataset(root: Path, **kwargs) -> SomethingSomethingV2:
    kwargs = {"train": False, "transform": eval_transform(64, short_side=64), "video_ext": ".mp4"} | kwargs
    return SomethingSomethingV2(root / "train.json", root / "labels.json", root / "videos", num_segments=4, **kwargs)


def test_dataset_samples_frames_and_their_keypoints(tiny_ssv2):
    data = _dataset(tiny_ssv2, keypoints=True, groundtruth_dir=tiny_ssv2 / "groundtruth")
    assert len(data) == 3 and data.num_classes == 3 and data.class_names[1] == "Pushing something from right to left"
    sample = data[2]
    assert sample["video"].shape == (3, 4, 64, 64) and sample["label"].item() == 2 and sample["index"] == 2
    indices = [1, 3, 6, 8]  # segment centres of 10 frames
    assert sample["keypoints"].shape == (4, 2, 3) and sample["keypoints"].dtype == torch.float32
    torch.testing.assert_close(sample["keypoints"][:, 0, 0], torch.tensor(indices) + 0.5)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    brightness = ((sample["video"] * std + mean) * 255).mean(dim=(0, 2, 3))
    torch.testing.assert_close(brightness, 20 * torch.tensor(indices, dtype=torch.float32), atol=3, rtol=0)


def test_training_keypoints_follow_the_crop(tiny_ssv2):
    gt = tiny_ssv2 / "groundtruth"
    data = _dataset(tiny_ssv2, train=True, transform=train_transform(32), keypoints=True, groundtruth_dir=gt)
    sample = data[0]
    assert sample["video"].shape == (3, 4, 32, 32)
    y = sample["keypoints"][:, 0, 1]
    assert torch.all(y == y[0]) and 0 < y[0] < 32  # one crop for all frames; the centre row stays inside


def test_missing_video_raises_or_is_skipped(tiny_ssv2):
    strict = _dataset(tiny_ssv2, video_ext=".webm")  # constructing is fine; reading is not
    with pytest.raises(VideoDecodeError, match="videos/10.webm: no such file"):
        strict[0]
    data = _dataset(tiny_ssv2, video_ext=".webm", skip_bad_videos=True)
    with pytest.warns(UserWarning, match="10.webm"):
        assert data[0] is None
    assert data.num_bad_videos == 1
    with pytest.raises(ValueError, match="groundtruth_dir"):
        _dataset(tiny_ssv2, keypoints=True)
