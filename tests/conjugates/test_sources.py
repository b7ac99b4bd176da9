"""Conjugates of datasets: SynthHOI's lead-in and tail, the frames around annotated segments (HACS,
Charades), the nearest negatives by stored feature maps, VOC stills with the people removed."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actattn.conjugates import BLEND_MARGIN, Conjugate, from_neighbours, from_segments, from_stills, from_synthhoi
from actattn.data.formats import read_activitynet, read_charades, read_voc_action
from actattn.data.frames import read_source
from actattn.data.synthetic import load_groundtruth
from actattn.extract import ExtractSettings
from actattn.feature_files import FeatureMap, conjugate_file

CHARADES = Path(__file__).resolve().parents[1] / "data" / "formats" / "fixtures" / "charades"


def test_mined_synthhoi_pairs_come_from_the_same_video_outside_the_action(tiny_synth: Path) -> None:
    pairs = from_synthhoi(tiny_synth, "train", min_frames=1).pairs
    assert len(pairs) == 24 and sum(map(len, pairs.values())) > 0
    for key, conjugates in pairs.items():
        start, end = load_groundtruth(tiny_synth / "groundtruth" / f"{key}.npz")["interval"]
        for c in conjugates:
            assert c.video == f"videos/{key}.mp4"
            assert c.stop <= start or c.start >= end


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_segments_get_the_frames_around_them_that_no_annotated_segment_covers(hacs: Path) -> None:
    with pytest.warns(UserWarning) as caught:
        mined = from_segments(read_activitynet(hacs / "hacs.json"), video_dir=hacs / "videos")
    videos = hacs / "videos"
    a = str(videos / "v_A.mp4")
    # 4 fps: A's segments are frames [8, 12), [16, 20), [26, 28) of 32
    assert mined.pairs["A_0"] == [Conjugate(a, 0, 8, "before"), Conjugate(a, 12, 16, "after")]
    assert mined.pairs["A_1"] == [Conjugate(a, 12, 16, "before"), Conjugate(a, 20, 26, "after")]
    assert mined.pairs["A_2"] == [Conjugate(a, 20, 26, "before"), Conjugate(a, 28, 32, "after")]
    assert set(mined.pairs) == {"A_0", "A_1", "A_2", "B_0"}
    annotated = {a: [(8, 12), (16, 20), (26, 28)], str(videos / "v_B.mp4"): [(4, 8)]}
    for key, conjugates in mined.pairs.items():
        clip = mined.samples[key]
        for c in conjugates:
            assert c.video == clip.video  # the same video
            assert not any(overlaps((c.start, c.stop), span) for span in annotated[c.video])  # no action in it
    # C's video is missing, D's corrupt: warned, counted, not cached; E has no times
    assert [line.split(":")[0] for line in mined.skipped[:2]] == [str(videos / "v_C.mp4"), str(videos / "v_D.mp4")]
    assert mined.skipped[2] == "1 samples without start/stop times or intervals (no before or after)"
    assert sum("v_C.mp4" in str(w.message) or "v_D.mp4" in str(w.message) for w in caught) == 2


def test_only_the_splits_asked_for_are_mined_and_spans_can_be_capped(hacs: Path) -> None:
    result = read_activitynet(hacs / "hacs.json")
    mined = from_segments(result, video_dir=hacs / "videos", splits=["validation"], max_seconds=0.5, min_frames=1)
    b = str(hacs / "videos" / "v_B.mp4")
    assert mined.pairs == {"B_0": [Conjugate(b, 2, 4, "before"), Conjugate(b, 8, 10, "after")]}  # 0.5 s: 2 frames
    with pytest.raises(ValueError, match="no split 'val'"):
        from_segments(result, video_dir=hacs / "videos", splits=["val"])


def test_frame_folders_are_counted_and_read_at_their_extraction_rate(hacs: Path) -> None:
    folder = hacs / "frames" / "v_A"
    folder.mkdir(parents=True)
    for i in range(32):
        Image.fromarray(np.full((24, 32, 3), 7 * i, np.uint8)).save(folder / f"frame_{i + 1:010d}.jpg")
    result = read_activitynet(hacs / "hacs.json")
    mined = from_segments(result, frames_dir=hacs / "frames", frame_rate=4, splits=["train"], min_frames=1)
    assert mined.pairs["A_1"] == [Conjugate(str(folder), 12, 16, "before"), Conjugate(str(folder), 20, 26, "after")]
    frames = read_source(folder, lambda n: [12, 15, 20, 25])[0]
    assert [round(frame.mean() / 7) for frame in frames] == [12, 15, 20, 25]  # what the pixel path reads
    with pytest.warns(UserWarning, match="needs the frame rate"):
        assert "A_1" not in from_segments(result, frames_dir=hacs / "frames", splits=["train"]).pairs


def test_charades_videos_have_conjugates_outside_every_interval(tmp_path: Path, write_gray) -> None:
    for name, frames in (("YSKX3", 24), ("46GP8", 50), ("KRF68", 36)):  # 2 fps; N11GT is missing
        write_gray(tmp_path / f"{name}.mp4", frames, fps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's skipped and clipped intervals
        result = read_charades(CHARADES / "Charades_v1_classes.txt", train=CHARADES / "Charades_v1_train.csv",
                               test=CHARADES / "Charades_v1_test.csv")
    with pytest.warns(UserWarning, match="N11GT.mp4: no such video"):
        mined = from_segments(result, video_dir=tmp_path, min_frames=2)
    yskx3, video = str(tmp_path / "YSKX3.mp4"), str(tmp_path / "46GP8.mp4")
    # YSKX3: c003 1.50-4.25 s = frames [3, 9); 46GP8: c000 0-12.6 s and c002 11.9-21.2 s = [0, 26) and [24, 43)
    assert mined.pairs == {"YSKX3": [Conjugate(yskx3, 0, 3, "before"), Conjugate(yskx3, 9, 24, "after")],
                           "46GP8": [Conjugate(video, 43, 50, "after")]}
    assert mined.skipped[-1].startswith("1 samples without")  # KRF68: no action annotated


def write_map(path: Path, pooled: list[float], video: str, steps: int = 3) -> None:
    """A feature file (extract's writer) whose mean over (t, h, w) is ``pooled``, with varying cells."""
    noise = torch.randn(steps, len(pooled), 2, 2, generator=torch.Generator().manual_seed(len(video)))
    features = torch.tensor(pooled).view(1, -1, 1, 1) + noise - noise.mean(dim=(0, 2, 3), keepdim=True)
    meta = {"version": 1, "settings": ExtractSettings(backbone="small_cnn", weights="random").to_json(),
            "video": video, "frames": [0, steps], "fps": 12.0, "input_size": [16, 16], "out_channels": len(pooled),
            "output_stride": 8, "temporal_stride": 1}
    FeatureMap(features.half(), torch.stack([torch.arange(steps), torch.arange(1, steps + 1)], 1), meta).save(path)


POSITIVES = {"p0": [4.0, 0.2, 0.0], "p1": [0.0, 3.0, 0.5]}
NEGATIVES = {"n0": [2.0, 0.0, 0.0], "n1": [0.1, 2.0, 0.4], "n2": [-2.0, 0.0, 0.0], "n3": [1.0, 1.0, 0.0]}


def test_the_nearest_negatives_by_pooled_features_and_their_maps_shared(tmp_path: Path) -> None:
    from actattn.conjugates import load_pairs, save_pairs
    from actattn.data.features import FeatureDataset, FeatureRecord

    features, pool = tmp_path / "features", tmp_path / "negatives"
    for name, pooled in POSITIVES.items():
        write_map(features / f"{name}.pt", pooled, f"videos/{name}.mp4")
    for k, (name, pooled) in enumerate(NEGATIVES.items()):
        write_map(pool / f"{name}.pt", pooled, f"negatives/{name}.mp4", steps=2 + k)
    mined = from_neighbours(features, pool, k=2)
    assert {key: mined.pairs[key] for key in POSITIVES} == {
        "p0": [Conjugate("negatives/n0.mp4", 0, 2, "neighbour"), Conjugate("negatives/n3.mp4", 0, 5, "neighbour")],
        "p1": [Conjugate("negatives/n1.mp4", 0, 3, "neighbour"), Conjugate("negatives/n3.mp4", 0, 5, "neighbour")]}
    assert set(mined.pairs) == set(POSITIVES) | set(NEGATIVES)  # a negative is a sample too
    assert all(f"negatives/{name}.mp4" not in [c.video for c in mined.pairs[name]] and len(mined.pairs[name]) == 2
               for name in NEGATIVES)  # its nearest others, never itself
    assert mined.samples["p0"].video == "videos/p0.mp4" and mined.samples["p0"].stop == 3
    for name, conjugate in (("n0", mined.pairs["p0"][0]), ("n3", mined.pairs["p0"][1])):
        assert os.path.samefile(conjugate_file(features, conjugate), pool / f"{name}.pt")  # where extract puts it
    # the feature path reads them as conjugate maps
    pairs = load_pairs(save_pairs(mined.pairs, tmp_path / "pairs.json"))
    dataset = FeatureDataset([FeatureRecord("p0", 0), FeatureRecord("p1", 1)], features, train=True, crop_steps=2,
                             conjugates=pairs)
    negatives = {name: FeatureMap.load(pool / f"{name}.pt").features.float() for name in NEGATIVES}
    for epoch in range(4):
        conjugate = dataset[(1, epoch)]["conjugate"]
        assert any(torch.equal(conjugate[0], negatives[name][i]) for name in ("n1", "n3")
                   for i in range(len(negatives[name])))


def test_negatives_may_be_ids_of_the_same_feature_folder(tmp_path: Path) -> None:
    features = tmp_path / "features"
    for name, pooled in {**POSITIVES, **NEGATIVES}.items():
        write_map(features / f"{name}.pt", pooled, f"videos/{name}.mp4")
    (tmp_path / "negatives.txt").write_text("n0\nn1\n\nn2\nn3\n")
    mined = from_neighbours(features, tmp_path / "negatives.txt", k=1)
    assert {key: [c.video for c in mined.pairs[key]] for key in POSITIVES} == {
        "p0": ["videos/n0.mp4"], "p1": ["videos/n1.mp4"]}
    (tmp_path / "negatives.txt").write_text("n0\nn9\nn1\n")  # n9: its video was missing at extraction
    with pytest.warns(UserWarning, match="negatives.txt: 1 negative ids have no feature file .* 'n9'"):
        mined = from_neighbours(features, tmp_path / "negatives.txt", k=1)
    assert len(mined.skipped) == 1 and set(mined.pairs) == {"p0", "p1", "n2", "n3", "n0", "n1"}  # n2, n3 positives now
    with pytest.raises(ValueError, match="2 negatives for k = 2"):
        from_neighbours(features, tmp_path / "negatives.txt", k=2)


def test_stills_lose_their_people_and_keep_the_rest(voc: Path) -> None:
    sets = sorted((voc / "ImageSets" / "Action").glob("*.txt"))
    result = read_voc_action(sets, annotations=voc / "Annotations")
    result.splits["val"] = list(result.splits["trainval"])  # as VOC's train/val/trainval files: each sample twice
    mined = from_stills(result, video_dir=voc, images_dir=voc / "out")
    assert sorted(mined.pairs) == ["2010_000002_1", "2010_000002_2", "2011_000001_1", "2012_004331_1"]  # both splits
    conjugate = mined.pairs["2010_000002_1"][0]
    assert conjugate == Conjugate(str(voc / "out" / "2010_000002.png"), 0, 1, "inpainted")
    assert mined.pairs["2010_000002_2"] == [conjugate]  # one image for both its people
    photo = read_source(voc / "JPEGImages" / "2010_000002.jpg", lambda n: [0])[0][0].astype(int)
    removed, background = (np.asarray(Image.open(path)).astype(int) for path in (conjugate.video,
                                                                                  voc / "background.png"))
    near = np.zeros(photo.shape[:2], bool)
    for x1, y1, x2, y2 in ((10, 39, 300, 320), (349, 59, 480, 330)):  # both people, 0-based
        box = (slice(y1, y2), slice(x1, x2))
        assert np.abs(removed[box] - photo[box]).mean() > 50  # the red person is gone
        assert np.abs(removed[box] - background[box]).mean() < 20  # the gradient filled in
        near[y1 - BLEND_MARGIN:y2 + BLEND_MARGIN, x1 - BLEND_MARGIN:x2 + BLEND_MARGIN] = True
    assert np.array_equal(removed[~near], photo[~near])  # the rest exactly as decoded
    with pytest.raises(ValueError, match="no person boxes .* --file annotations=PATH"):
        from_stills(read_voc_action(sets), video_dir=voc, images_dir=voc / "out")
