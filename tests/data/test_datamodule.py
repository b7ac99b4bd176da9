"""actattn.data.datamodule: SSv2 and CSV data on disk -> setup -> batches, with per-epoch sampling."""
import json

import lightning as L
import numpy as np
import pytest
import torch

from actattn.data.datamodule import VideoDataModule
from actattn.data.loaders import collate_drop_none
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
    with pytest.raises(ValueError, match="format 'ssv2' needs labels_file"):
        VideoDataModule("ssv2", train_file="t.json")
    with pytest.raises(ValueError, match="labels_file and video_dir"):
        VideoDataModule("ssv2", train_file="t.json", labels_file="labels.json")
    with pytest.raises(ValueError, match="keypoints"):
        VideoDataModule("csv", train_file="t.csv", keypoints=True)
    with pytest.raises(RuntimeError, match="after setup"):
        VideoDataModule("csv", train_file="t.csv").num_classes


# --- the official files of any format (actattn.data.records), frame folders, test protocols ---

ANNOTATIONS = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "annotations"


@pytest.fixture(scope="module")
def annotations():
    if not (ANNOTATIONS / "README.md").is_file():
        pytest.skip(f"the shared annotation excerpts are not at {ANNOTATIONS}")
    return ANNOTATIONS


def _jpegs(folder, count, pattern, size=(40, 56)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(np.full((*size, 3), 4 * (i % 60), np.uint8)).save(folder / (pattern % (i + 1)))


@pytest.fixture(scope="module")
def ucf_videos(tmp_path_factory):
    """Stand-in videos for the first 3 train and first 2 test lines of UCF101's split 1."""
    root = tmp_path_factory.mktemp("ucf")
    rng = np.random.default_rng(0)
    for name in ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02",
                 "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c03", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01",
                 "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c02"):
        write_video(root / f"{name}.avi.mp4", rng.integers(0, 256, (12, 40, 56, 3), dtype=np.uint8), fps=10)
    for path in root.rglob("*.avi.mp4"):  # PyAV reads by content: the official .avi names, H.264 inside
        path.rename(path.with_name(path.name.removesuffix(".mp4")))
    return root


def _ucf(annotations, root, **kwargs):
    ucf = annotations / "ucf101"
    files = {"class_ind": str(ucf / "classInd.txt"), "train": str(ucf / "trainlist01.txt"),
             "test": str(ucf / "testlist01.txt")}
    return VideoDataModule("ucf101", **({"files": files, "video_dir": root, "split": 1, "num_segments": 3, "size": 32,
                                         "batch_size": 4, "skip_bad_videos": True} | kwargs))


def test_official_files_decode_and_missing_videos_are_counted_or_named(annotations, ucf_videos):
    dm = _ucf(annotations, ucf_videos)
    with pytest.warns(UserWarning, match=r"split 'train1' \(train\): 197 of 200 videos do not exist"):
        dm.setup("fit")
    assert dm.num_classes == 101 and dm.class_names[0] == "ApplyEyeMakeup" and not dm.multi_label
    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (3, 3, 3, 32, 32) and batch["label"].tolist() == [0, 0, 0]
    assert len(dm.datasets["test"]) == 2 and dm.files == {"train": "train1", "val": "test1", "test": "test1"}
    with pytest.raises(FileNotFoundError, match=r"197 of 200 videos do not exist, the first .*v_ApplyEyeMakeup_g08_c04"
                                                r".avi \(sample ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c04.avi\)"):
        _ucf(annotations, ucf_videos, skip_bad_videos=False).setup("fit")
    with pytest.raises(ValueError, match="format 'ucf101' reads its official files: give data.files"):
        VideoDataModule("ucf101", video_dir=ucf_videos)
    with pytest.raises(ValueError, match="multi_label: the ucf101 task 'action' is single-label"):
        _ucf(annotations, ucf_videos, multi_label=True).setup("fit")


def test_test_protocol_views_are_deterministic(annotations, ucf_videos):
    dm = _ucf(annotations, ucf_videos, test_clips=2, test_crops=3, test_segments=4)
    with pytest.warns(UserWarning):
        dm.setup("test")
    first, again = dm.datasets["test"][0], dm.datasets["test"][0]
    assert first["video"].shape == (6, 3, 4, 32, 32) and torch.equal(first["video"], again["video"])
    assert not torch.equal(first["video"][0], first["video"][2])  # left and right crops differ
    batch = next(iter(dm.test_dataloader()))
    assert batch["video"].shape == (2, 6, 3, 4, 32, 32) and batch["label"].shape == (2,)
    assert dm.datasets["val"][0]["video"].shape == (3, 3, 32, 32)  # validation keeps one centre clip
    ten = _ucf(annotations, ucf_videos, test_crops=10)
    with pytest.warns(UserWarning):
        ten.setup("test")
    views = ten.datasets["test"][0]["video"]
    assert views.shape == (10, 3, 3, 32, 32) and torch.equal(views[5], views[0].flip(-1))  # TSN: 5 crops + mirrors


def test_frame_folders_and_segments_through_the_data_module(annotations, tmp_path):
    ss1 = annotations / "something-something-v1"
    for video_id in ("100218", "48032"):  # SSv1 ships JPEG frames <id>/%05d.jpg
        _jpegs(tmp_path / "ssv1" / video_id, 9, "%05d.jpg")
    dm = VideoDataModule("ssv1", files={"labels": str(ss1 / "something-something-v1-labels.csv"),
                                        "train": str(ss1 / "something-something-v1-train.csv")},
                         video_dir=tmp_path / "ssv1", num_segments=3, size=32, skip_bad_videos=True)
    with pytest.warns(UserWarning, match="videos do not exist"):
        dm.setup("fit")
    assert len(dm.datasets["train"]) == 2 and dm.datasets["train"][0]["video"].shape == (3, 3, 32, 32)

    epic = annotations / "epic-kitchens-55"
    _jpegs(tmp_path / "epic" / "frames_rgb_flow" / "rgb" / "train" / "P01" / "P01_01", 500, "frame_%010d.jpg", (16, 24))
    dm = VideoDataModule("epic55", files={"labels": str(epic / "EPIC_train_action_labels.csv"),
                                          "verb_classes": str(epic / "EPIC_verb_classes.csv"),
                                          "noun_classes": str(epic / "EPIC_noun_classes.csv")},
                         frames_dir=tmp_path / "epic", reader_options={"train_participants": 0}, num_segments=2,
                         size=16, short_side=16, skip_bad_videos=True)
    dm.setup("fit")
    assert dm.num_classes == 125 and dm.files["test"] == "validation"
    test = dm.datasets["test"]
    assert test[0]["label"] == 2 and test[1]["label"] == 12  # open, turn-on
    with pytest.warns(UserWarning, match=r"ends after the video's last frame; clipped to frames 417..499"):
        assert test[2]["video"].shape == (3, 2, 16, 16)  # close door, frames 418..569 of 500
    assert test.num_clipped == 1
    with pytest.warns(UserWarning, match="starts after the last of its 500 frames"):
        assert test[3] is None and test.num_bad_videos == 1


def test_multi_label_images_are_multi_hot_with_ambiguous(tmp_path):
    from PIL import Image
    from scipy.io import savemat

    def cells(items):
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array

    savemat(tmp_path / "anno.mat", {
        "list_action": cells([{"nname": "airplane", "vname": "board", "vname_ing": "boarding"},
                              {"nname": "bicycle", "vname": "ride", "vname_ing": "riding"}]),
        "list_train": cells(["a.jpg"]), "list_test": cells(["b.jpg"]),
        "anno_train": np.array([[1.0], [0.0]]), "anno_test": np.array([[np.nan], [1.0]])})
    for split, name in (("train", "a.jpg"), ("test", "b.jpg")):
        (tmp_path / "images" / f"{split}2015").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(tmp_path / "images" / f"{split}2015" / name)
    dm = VideoDataModule("hico", files={"path": str(tmp_path / "anno.mat")}, video_dir=tmp_path, num_segments=1,
                         size=32, flip=True)
    dm.setup("fit")
    assert dm.multi_label and dm.class_names == ["airplane boarding", "bicycle riding"]
    sample = dm.datasets["train"][(0, 0)]
    assert sample["video"].shape == (3, 1, 32, 32) and sample["label"].tolist() == [1.0, -1.0]
    assert dm.datasets["test"][0]["label"].tolist() == [0.0, 1.0]


def test_views_carry_their_own_objects(tiny_synth):
    dm = VideoDataModule("ssv2", train_file=tiny_synth / "something-something-v2-train.json",
                         test_file=tiny_synth / "something-something-v2-validation.json",
                         labels_file=tiny_synth / "something-something-v2-labels.json",
                         video_dir=tiny_synth / "videos", video_ext=".mp4", groundtruth_dir=tiny_synth / "groundtruth",
                         object_source="synthhoi", num_segments=2, size=32, test_clips=2, test_crops=3, batch_size=2)
    dm.setup("test")
    sample = dm.datasets["test"][0]
    views, frames, slots = sample["object_classes"].shape
    assert (views, frames) == (6, 2) and sample["object_masks"].shape == (6, 2, slots, 28, 28)
    assert not torch.equal(sample["object_masks"][0], sample["object_masks"][2])  # masks follow each crop
    batch = next(iter(dm.test_dataloader()))
    assert batch["video"].shape[:2] == (2, 6) and batch["object_masks"].shape[:3] == (2, 6, 2)
