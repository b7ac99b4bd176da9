"""actattn.data.datamodule: SSv2 and CSV data on disk -> setup -> batches, with per-epoch sampling."""
import json

import lightning as L
import numpy as np
import pytest
import torch

from actattn.data.datamodule import VideoDataModule, collate_drop_none
from actattn.data.pose import COCO_KEYPOINT_NAMES
from actattn.data.transforms import HorizontalFlip, MultiScaleCrop, RandomCrop
from actattn.data.video import write_video

NAMES = ["Pushing something from left to right", "Pushing something from right to left", "Lifting something up"]


def _entry(video_id: int, label: int) -> dict:
    template = NAMES[label].replace("something", "[something]")
    return {"id": str(video_id), "label": "x", "template": template, "placeholders": ["x"]}


@pytest.fixture(scope="module")
def ssv2_root(tmp_path_factory):
    """SSv2 layout: 6 training entries (video 5 missing), 2 validation entries, 8-frame 40x56 videos."""
    root = tmp_path_factory.mktemp("ssv2dm")
    rng = np.random.default_rng(0)
    for video_id in (0, 1, 2, 3, 4, 6, 7):
        write_video(root / "videos" / f"{video_id}.mp4", rng.integers(0, 256, (8, 40, 56, 3), dtype=np.uint8))
    (root / "labels.json").write_text(json.dumps({n: str(i) for i, n in enumerate(NAMES)}), encoding="utf-8")
    train = [_entry(i, i % 3) for i in range(6)]
    (root / "train.json").write_text(json.dumps(train), encoding="utf-8")
    (root / "validation.json").write_text(json.dumps([_entry(6, 0), _entry(7, 2)]), encoding="utf-8")
    return root


def _ssv2(root, **kwargs) -> VideoDataModule:
    kwargs = dict(
        train_file=root / "train.json",
        val_file=root / "validation.json",
        labels_file=root / "labels.json",
        video_dir=root / "videos",
        video_ext=".mp4",
        num_segments=3,
        size=32,
        batch_size=6,
        skip_bad_videos=True,
    ) | kwargs
    return VideoDataModule("ssv2", **kwargs)


def test_ssv2_round_trip_drops_bad_videos(ssv2_root):
    dm = _ssv2(ssv2_root)
    dm.setup("fit")
    assert dm.num_classes == 3 and dm.class_names == NAMES
    with pytest.warns(UserWarning, match="5.mp4"):
        batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (5, 3, 3, 32, 32) and batch["video"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and sorted(batch["index"].tolist()) == [0, 1, 2, 3, 4]
    assert dm.datasets["train"].num_bad_videos == 1
    val = next(iter(dm.val_dataloader()))
    assert val["video"].shape == (2, 3, 3, 32, 32) and val["label"].tolist() == [0, 2]


def test_csv_round_trip(ssv2_root, tmp_path):
    lines = "path,label\n" + "".join(f"{ssv2_root}/videos/{i}.mp4,{i % 3}\n" for i in range(4))
    (tmp_path / "train.csv").write_text(lines, encoding="utf-8")
    csv = tmp_path / "train.csv"
    dm = VideoDataModule("csv", train_file=csv, test_file=csv, num_segments=2, size=32, batch_size=4)
    dm.setup()
    assert dm.num_classes == 3 and dm.class_names == ["0", "1", "2"]
    batch = next(iter(dm.test_dataloader()))
    assert batch["video"].shape == (4, 3, 2, 32, 32) and batch["label"].tolist() == [0, 1, 2, 0]


def test_csv_keypoints_come_from_the_cache_folder(ssv2_root, tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text("".join(f"{ssv2_root}/videos/{i}.mp4,{i % 3}\n" for i in range(2)), encoding="utf-8")
    cache = tmp_path / "keypoints"
    cache.mkdir()
    for i in range(2):  # the layout `actattn keypoints` writes: {video stem}.npz with (T, 17, 3) pixels
        np.savez(cache / f"{i}.npz", keypoints=np.full((8, 17, 3), [10.0 * i, 20.0, 1.0], dtype=np.float32))
    dm = VideoDataModule("csv", test_file=csv, num_segments=2, size=32, short_side=40, batch_size=2,
                         keypoints=True, groundtruth_dir=cache)
    dm.setup()
    keypoints = next(iter(dm.test_dataloader()))["keypoints"]
    assert keypoints.shape == (2, 2, 17, 3)
    # 40x56 frames -> short side 40 (x1) -> centre 32 crop: x - 12, y - 4
    torch.testing.assert_close(keypoints[:, 0, 0], torch.tensor([[-12.0, 16.0, 1.0], [-2.0, 16.0, 1.0]]))
    (cache / "1.npz").unlink()
    with pytest.raises(FileNotFoundError, match="1.npz"):
        dm.datasets["test"][1]


def test_flip_only_when_asked(ssv2_root):
    plain, flipping = _ssv2(ssv2_root), _ssv2(ssv2_root, flip=True)
    plain.setup(), flipping.setup()
    assert not any(isinstance(s, HorizontalFlip) for s in plain.datasets["train"].transform.steps)
    (flip,) = [s for s in flipping.datasets["train"].transform.steps if isinstance(s, HorizontalFlip)]
    assert flip.label_map == {0: 1, 1: 0, 2: 2}
    assert not any(isinstance(s, HorizontalFlip) for s in flipping.datasets["val"].transform.steps)


def test_random_crop_and_flips_of_multi_label_clips_with_keypoints(ssv2_root, tmp_path):
    """The MPII/HICO recipe: a random crop, flips of multi-hot labels (ambiguous -1 kept), and the
    left and right joints swapped by the flip."""
    csv = tmp_path / "train.csv"
    csv.write_text("".join(f"{ssv2_root}/videos/{i}.mp4,0;?2\n" for i in range(2)), encoding="utf-8")
    cache = tmp_path / "keypoints"
    cache.mkdir()
    keypoints = np.zeros((8, 17, 3), dtype=np.float32)
    keypoints[:, :, 2] = 1.0
    keypoints[:, COCO_KEYPOINT_NAMES.index("left_eye"), 0] = 10.0
    keypoints[:, COCO_KEYPOINT_NAMES.index("right_eye"), 0] = 20.0
    for i in range(2):
        np.savez(cache / f"{i}.npz", keypoints=keypoints)
    dm = VideoDataModule("csv", train_file=csv, multi_label=True, num_segments=1, size=32, short_side=40,
                         crop="random", flip=True, keypoints=True, groundtruth_dir=cache, keypoint_layout="coco")
    dm.setup()
    data = dm.datasets["train"]
    assert [type(step) for step in data.transform.steps][1:3] == [RandomCrop, HorizontalFlip]
    left, right = COCO_KEYPOINT_NAMES.index("left_eye"), COCO_KEYPOINT_NAMES.index("right_eye")
    flipped = 0
    for epoch in range(12):
        sample = data[0, epoch]
        assert sample["label"].tolist() == [1.0, 0.0, -1.0]
        eyes = sample["keypoints"][0, [left, right], 0]
        assert eyes[1] - eyes[0] == 10  # the person's right eye stays 10 px right of the left one
        flipped += bool(eyes[0] >= 12)  # 40x56 frames, left offset 0..24: unflipped x = 10 - offset
    assert 0 < flipped < 12


def test_crop_and_keypoint_layout_arguments(ssv2_root):
    dm = _ssv2(ssv2_root)  # TSN's multi-scale crop unless asked otherwise
    dm.setup()
    assert any(isinstance(step, MultiScaleCrop) for step in dm.datasets["train"].transform.steps)
    with pytest.raises(ValueError, match="crop must be one of"):
        VideoDataModule("csv", train_file="t.csv", crop="corners")
    with pytest.raises(ValueError, match="keypoint_layout must be one of"):
        VideoDataModule("csv", train_file="t.csv", keypoint_layout="openpose")
    with pytest.raises(ValueError, match="flip=True needs keypoint_layout"):
        VideoDataModule("csv", train_file="t.csv", keypoints=True, groundtruth_dir="gt", flip=True)


def test_collate_drops_none_and_counts_it():
    sample = {"video": torch.zeros(3, 2, 4, 4), "label": torch.tensor(1), "index": 0}
    batch = collate_drop_none([None, sample, None, sample])
    assert batch["video"].shape == (2, 3, 2, 4, 4) and batch["skipped"] == 2
    assert collate_drop_none([sample])["skipped"] == 0
    assert collate_drop_none([None, None]) == {"skipped": 2}


class _Probe(L.LightningModule):
    """A linear classifier on the clip's mean colour that records what each epoch was fed."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)
        self.seen = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.current_epoch, batch["index"].clone(), batch["video"].clone()))
        return torch.nn.functional.cross_entropy(self.linear(batch["video"].mean(dim=(2, 3, 4))), batch["label"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_epochs_reach_the_dataset(ssv2_root):
    dm = _ssv2(ssv2_root, train_file=ssv2_root / "validation.json", val_file=None, batch_size=2, num_workers=1)
    probe = _Probe()
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(probe, datamodule=dm)
    data = dm.datasets["train"]
    assert [epoch for epoch, _, _ in probe.seen] == [0, 1]
    for epoch, index, video in probe.seen:
        torch.testing.assert_close(video, torch.stack([data[i, epoch]["video"] for i in index.tolist()]))
    assert not torch.equal(probe.seen[0][2], probe.seen[1][2])


def test_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        VideoDataModule("kinetics")
    with pytest.raises(ValueError, match="labels_file and video_dir"):
        VideoDataModule("ssv2", train_file="t.json")
    with pytest.raises(ValueError, match="keypoints"):
        VideoDataModule("csv", train_file="t.csv", keypoints=True)
    with pytest.raises(RuntimeError, match="after setup"):
        VideoDataModule("csv", train_file="t.csv").num_classes
