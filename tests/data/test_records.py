"""actattn.data.records: every format's official files (the real excerpts in ../shared/annotations,
or the formats' small fixtures) -> stages of clip records: splits, labels, videos, segments."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from actattn.data.formats import FORMATS
from actattn.data.records import default_stages, load_format, read_format

SHARED = Path(__file__).resolve().parents[3] / "shared" / "annotations"
FIXTURES = Path(__file__).resolve().parent / "formats" / "fixtures"


@pytest.fixture(scope="session")
def annotations() -> Path:
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"the shared annotation excerpts are not at {SHARED}")
    return SHARED


def _cells(items):
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def write_hico(path: Path) -> Path:
    """A 3-class anno.mat (hico/FORMAT.md layout): image 1 positive 0, ambiguous 1; image 2 positive 2."""
    savemat(path, {"list_action": _cells([{"nname": "airplane", "vname": "board", "vname_ing": "boarding"},
                                          {"nname": "airplane", "vname": "direct", "vname_ing": "directing"},
                                          {"nname": "bicycle", "vname": "ride", "vname_ing": "riding"}]),
                   "list_train": _cells(["HICO_train2015_00000001.jpg", "HICO_train2015_00000002.jpg"]),
                   "list_test": _cells(["HICO_test2015_00000001.jpg"]),
                   "anno_train": np.array([[1.0, -1.0], [0.0, np.nan], [np.nan, 1.0]]),
                   "anno_test": np.array([[1.0], [np.nan], [-1.0]])})
    return path


def write_mpii(path: Path) -> Path:
    acts = [(1, "curling", "sports"), (7, "bicycling, mountain", "bicycling"), (1, "curling", "sports")]
    annolist = _cells([{"image": {"name": f"{i:09d}.jpg"}, "annorect": {"scale": 1.0}, "frame_sec": 10, "vidx": 1}
                       for i in range(len(acts))])
    savemat(path, {"RELEASE": {"annolist": annolist, "img_train": np.array([1, 1, 0]),
                               "act": _cells([{"act_id": a, "act_name": n, "cat_name": c} for a, n, c in acts]),
                               "video_list": _cells(["nja4-tUNLGs"])}})
    return path


def official_files(format: str, annotations: Path, tmp: Path) -> dict:
    """``files`` (and reader options) for each format, from the excerpts or the fixtures."""
    ss1, ss2, epic55, epic100 = (annotations / name for name in (
        "something-something-v1", "something-something-v2", "epic-kitchens-55", "epic-kitchens-100"))
    if format == "vlog":
        meta = annotations / "vlog" / "meta"
        matrix = -np.ones((200, 30), np.int64)
        matrix[0, [3, 7]], matrix[0, 10:13] = 1, 0
        np.save(tmp / "hand_object.npy", matrix)
    return {
        "ssv1": lambda: {"labels": ss1 / "something-something-v1-labels.csv",
                         "train": ss1 / "something-something-v1-train.csv"},
        "ssv2": lambda: {"labels": ss2 / "something-something-v2-labels.json",
                         "validation": ss2 / "something-something-v2-validation.json",
                         "test": ss2 / "something-something-v2-test.json"},
        "something_else": lambda: {
            "labels": annotations / "something-else/code/dataset_splits/compositional_oneobject/labels.json",
            "train": annotations / "something-else/code/dataset_splits/compositional_oneobject/train.json"},
        "epic55": lambda: {"labels": epic55 / "EPIC_train_action_labels.csv",
                           "verb_classes": epic55 / "EPIC_verb_classes.csv",
                           "noun_classes": epic55 / "EPIC_noun_classes.csv",
                           "video_info": epic55 / "EPIC_video_info.csv"},
        "epic100": lambda: {"verb_classes": epic100 / "EPIC_100_verb_classes.csv",
                            "noun_classes": epic100 / "EPIC_100_noun_classes.csv",
                            "validation": epic100 / "EPIC_100_validation.csv",
                            "test": epic100 / "EPIC_100_test_timestamps.csv"},
        "vlog": lambda: {"manifest": meta / "manifest.txt", "split_ids": meta / "splitId.txt",
                         "labels": meta / "hand_object" / "hand_object_labels.txt",
                         "hand_object": tmp / "hand_object.npy"},
        "charades": lambda: {"classes": FIXTURES / "charades/Charades_v1_classes.txt",
                             "train": FIXTURES / "charades/Charades_v1_train.csv",
                             "test": FIXTURES / "charades/Charades_v1_test.csv"},
        "kinetics": lambda: {"validation": annotations / "kinetics/kinetics-400_val.csv"},
        "hmdb51": lambda: {"split_files": str(annotations / "hmdb51" / "*_test_split1.txt")},
        "ucf101": lambda: {"class_ind": annotations / "ucf101/classInd.txt",
                           "train": [annotations / "ucf101/trainlist01.txt"],
                           "test": [annotations / "ucf101/testlist01.txt"]},
        "activitynet": lambda: {"path": FIXTURES / "hacs/HACS_segments_v1.1.1.json"},
        "hacs_clips": lambda: {"path": FIXTURES / "hacs/HACS_clips_v1.1.1.csv"},
        "hollywood2": lambda: {"clipsets": str(FIXTURES / "hollywood2/ClipSets/*_t*.txt")},
        "voc_action": lambda: {"imagesets": str(FIXTURES / "voc_action/ImageSets/Action/*.txt"),
                               "annotations": FIXTURES / "voc_action/Annotations"},
        "mpii": lambda: {"path": write_mpii(tmp / "mpii_human_pose_v1_u12_1.mat")},
        "hico": lambda: {"path": write_hico(tmp / "anno.mat")},
        "csv": lambda: _csv(tmp),
    }[format]()


def _csv(tmp: Path) -> dict:
    (tmp / "train.csv").write_text("path,label\na.mp4,0\nb.mp4,1\n")
    (tmp / "val.csv").write_text("c.mp4,1\n")
    return {"train": tmp / "train.csv", "validation": tmp / "val.csv"}


def as_str(files: dict) -> dict:
    return {k: str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, list) else v
            for k, v in files.items()}


# per format: (classes of the first task, the stages read, whether multi-label)
EXPECTED = {
    "ssv1": (174, {"train"}, False), "ssv2": (174, {"val", "test"}, False),
    "something_else": (None, {"train"}, False), "epic55": (125, {"train", "val", "test"}, False),
    "epic100": (97, {"val", "test"}, False), "vlog": (30, {"train", "val", "test"}, True),
    "charades": (None, {"train", "val", "test"}, True), "kinetics": (None, {"val", "test"}, False),
    "hmdb51": (3, {"train", "val", "test"}, False), "ucf101": (101, {"train", "val", "test"}, False),
    "activitynet": (None, {"train", "val", "test"}, False), "hacs_clips": (5, {"train", "val", "test"}, False),
    "hollywood2": (3, {"train", "val", "test"}, True),
    "voc_action": (3, {"train"}, True), "mpii": (2, {"train", "val", "test"}, False),
    "hico": (3, {"train", "val", "test"}, True), "csv": (2, {"train", "val", "test"}, False),
}


def test_every_format_is_covered():
    assert set(EXPECTED) == set(FORMATS)


@pytest.mark.parametrize("format", sorted(FORMATS))
def test_every_format_becomes_stages_of_records(format, annotations, tmp_path):
    files = as_str(official_files(format, annotations, tmp_path))
    with warnings.catch_warnings():  # the readers' counted skips of the excerpts' real quirks
        warnings.simplefilter("ignore")
        data = load_format(format, files, video_dir=tmp_path, video_ext=None)
    classes, stages, multi_label = EXPECTED[format]
    assert set(data.stages) == stages and data.multi_label == multi_label
    if classes is not None:
        assert len(data.class_names) == classes
    for stage in data.stages.values():  # no video exists: every sample is counted missing, none dropped silently
        assert not stage.records and len(stage.missing) == len(data.result.splits[stage.split])


def test_epic_segments_labels_and_frame_folders(annotations, tmp_path):
    epic55 = annotations / "epic-kitchens-55"
    files = as_str(official_files("epic55", annotations, tmp_path))
    frames = tmp_path / "frames_rgb_flow" / "rgb" / "train" / "P01" / "P01_01"
    frames.mkdir(parents=True)
    data = load_format("epic55", files, task="noun", frames_dir=tmp_path)
    train = data.stages["train"]
    first = train.records[0]  # uid 0: open door, 00:00:00.14-00:00:03.37, frames 8..202, noun 8
    assert first.path == frames and first.label == 8 and first.frames == (8, 202)
    assert first.segment == (0.14, 3.37) and first.frame_rate == 60.0
    assert len(train.records) == 200 and not train.missing  # the excerpt is all P01_01
    assert data.stages["val"].split == "validation" and not data.stages["val"].samples  # the excerpt is P01's
    every = load_format("epic55", files, options={"train_participants": 0}, frames_dir=tmp_path)
    assert len(every.stages["val"].records) == 200 and not every.stages["train"].records
    action = load_format("epic55", files, task="action", frames_dir=tmp_path, strict=True)
    assert action.stages["train"].records[0].label == 2 * 352 + 8  # verb 2 (open) x 352 nouns + noun 8
    assert len(action.class_names) == 125 * 352
    with pytest.raises(ValueError, match=r"tasks \['verb', 'noun', 'action'\], not 'adverb'"):
        load_format("epic55", files, task="adverb", frames_dir=tmp_path)
    assert (epic55 / "EPIC_many_shot_verbs.csv").is_file()


def test_multi_label_is_multi_hot_with_ambiguous_minus_one(tmp_path):
    images = tmp_path / "images" / "train2015"
    images.mkdir(parents=True)
    for name in ("HICO_train2015_00000001.jpg", "HICO_train2015_00000002.jpg"):
        (images / name).write_bytes(b"")
    data = load_format("hico", {"path": str(write_hico(tmp_path / "anno.mat"))}, video_dir=tmp_path)
    first, second = (record.label for record in data.stages["train"].records)
    assert first.tolist() == [1.0, -1.0, 0.0] and second.tolist() == [0.0, 0.0, 1.0]  # NaN and -1: negatives
    assert data.stages["test"].missing[0][0] == "HICO_test2015_00000001.jpg"


def test_stages_and_splits(annotations, tmp_path):
    ucf = as_str(official_files("ucf101", annotations, tmp_path))
    result = read_format("ucf101", ucf)
    assert default_stages(result) == {"train": "train1", "val": "test1", "test": "test1"}
    assert default_stages(result, 1) == default_stages(result)
    with pytest.raises(ValueError, match="split 2: the ucf101 files read have no train2/test2"):
        default_stages(result, 2)
    ssv2 = read_format("ssv2", as_str(official_files("ssv2", annotations, tmp_path)))
    assert default_stages(ssv2) == {"train": None, "val": "validation", "test": "validation"}  # test is unlabelled
    data = load_format("ssv2", as_str(official_files("ssv2", annotations, tmp_path)), splits={"test": "test"},
                       video_dir=tmp_path)
    assert data.stages["test"].split == "test" and len(data.stages["test"].missing) == 101
    with pytest.raises(ValueError, match=r"data.splits.val: the ssv2 files read have no split 'val'"):
        load_format("ssv2", as_str(official_files("ssv2", annotations, tmp_path)), splits={"val": "val"})


def test_bad_files_are_named(annotations, tmp_path):
    with pytest.raises(ValueError, match=r"format 'epic55' needs files for the roles \['verb_classes', 'noun_classes'\]"):
        read_format("epic55", {"labels": "x.csv"})
    with pytest.raises(ValueError, match=r"has no file role 'lables'; its roles: \['labels'"):
        read_format("ssv1", {"lables": "x.csv"})
    with pytest.raises(FileNotFoundError, match=r"data.files.labels: nope.json does not exist"):
        read_format("ssv2", {"labels": "nope.json"})
    with pytest.raises(ValueError, match=r"data.files.split_files: no file matches"):
        read_format("hmdb51", {"split_files": str(tmp_path / "*_test_split1.txt")})
    labels = annotations / "ucf101" / "classInd.txt"
    bad = tmp_path / "trainlist01.txt"
    bad.write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nNoSuchClass/v_x.avi 3\n")
    with pytest.raises(ValueError, match=r"trainlist01.txt, line 2: unknown class folder 'NoSuchClass'"):
        read_format("ucf101", {"class_ind": str(labels), "train": [str(bad)]})
    with pytest.warns(UserWarning, match="skipped 1 rows"):
        result = read_format("ucf101", {"class_ind": str(labels), "train": [str(bad)]}, strict=False)
    assert len(result.splits["train1"]) == 1 and result.skipped[0].line == 2


def test_repeated_stems_get_object_keys_from_the_ids(annotations, tmp_path):
    files = as_str(official_files("vlog", annotations, tmp_path))
    for clip in ("O/5/E/v_vAqaXZuAO5E/075", "I/1/A/v_1iqqJaL6I1A/004"):
        (tmp_path / "videos" / clip).mkdir(parents=True)
        (tmp_path / "videos" / clip / "clip.mp4").write_bytes(b"")
    train = load_format("vlog", files, video_dir=tmp_path / "videos").stages["train"]
    assert [record.object_key for record in train.records] == ["O_5_E_v_vAqaXZuAO5E_075", "I_1_A_v_1iqqJaL6I1A_004"]
    assert train.records[0].label[[3, 7, 10]].tolist() == [1.0, 1.0, -1.0]
