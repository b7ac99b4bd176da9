"""actattn.data.pose: disc heatmap targets, joint layouts, Keypoint R-CNN on random weights, the detection cache."""
import numpy as np
import pytest
import torch

from actattn.backbones import create_backbone
from actattn.data.pose import JOINT_NAMES, KeypointDetector, cached_keypoints, flip_permutation, keypoint_heatmaps
from actattn.data.video import write_video


def test_heatmap_peaks_at_the_joint_and_flags_invalid_joints():
    keypoints = torch.tensor(
        [
            [35.0, 15.0, 1.0],  # centre of grid cell (row 1, col 3) on a 10 px grid
            [81.0, 51.0, 1.0],  # cell (5, 8), near its top-left corner
            [20.0, 20.0, 0.0],  # invisible
            [120.0, 10.0, 1.0],  # right of the image
            [10.0, -1.0, 1.0],  # above the image
        ]
    )
    maps, valid = keypoint_heatmaps(keypoints, image_size=(60, 100), stride=10, radius_ratio=0.05)
    assert maps.shape == (5, 6, 10) and valid.tolist() == [True, True, False, False, False]
    assert maps.min() >= 0 and maps.max() <= 1
    for joint, cell in ((0, (1, 3)), (1, (5, 8))):
        assert maps[joint].max() == 1
        assert maps[joint][cell] == 1
        assert maps[joint].flatten().argmax().item() == cell[0] * 10 + cell[1]
    assert maps[0].count_nonzero() == 1  # a 5 px disc centred in a 10 px cell stays inside it
    assert maps[1].count_nonzero() == 4  # centred near a corner: it spills into the neighbours
    assert torch.all(maps[2:] == 0)


def test_heatmap_radius_and_leading_dimensions():
    keypoints = torch.tensor([52.5, 52.5, 1.0]).expand(2, 3, 4, 3).clone()  # the centre of a 15x15 grid
    small, _ = keypoint_heatmaps(keypoints, (105, 105), 7, radius_ratio=0.05)
    large, valid = keypoint_heatmaps(keypoints, (105, 105), 7, radius_ratio=0.2)
    assert small.shape == (2, 3, 4, 15, 15) and valid.shape == (2, 3, 4) and bool(valid.all())
    assert large[0, 0, 0].count_nonzero() > 4 * small[0, 0, 0].count_nonzero()
    # a disc is symmetric (up to the row sampling: columns are exact)
    torch.testing.assert_close(large[0, 0, 0], large[0, 0, 0].T, atol=0.02, rtol=0)
    torch.testing.assert_close(large[0, 0, 0], large[0, 0, 0].flip(0))
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        keypoint_heatmaps(torch.zeros(4, 2), (10, 10), 5)


@pytest.mark.parametrize(("backbone", "kwargs", "image_size"), [
    ("resnet18", {"stride1_last": True}, (50, 70)),  # stride 16
    ("resnet18", {}, (100, 60)),  # stride 32
    ("small_cnn", {}, (33, 41)),  # stride 8
])
def test_heatmap_cells_are_the_feature_cells(backbone, kwargs, image_size):
    """H, W not multiples of the stride: the grid is the backbone's ceil(H / s) x ceil(W / s), and a
    joint at the centre of feature cell (i, j) (pixels [i s, (i + 1) s)) peaks in that cell."""
    trunk = create_backbone(backbone, **kwargs)
    stride, (height, width) = trunk.output_stride, image_size
    with torch.no_grad():
        grid = tuple(trunk(torch.zeros(1, 3, 1, height, width)).shape[-2:])
    cells = [(i, j) for i in range(grid[0]) for j in range(grid[1])
             if (i + 0.5) * stride < height and (j + 0.5) * stride < width]  # centres inside the image
    keypoints = torch.tensor([[(j + 0.5) * stride, (i + 0.5) * stride, 1.0] for i, j in cells])
    maps, valid = keypoint_heatmaps(keypoints, image_size, stride, radius_ratio=0.02)
    assert maps.shape == (len(cells), *grid) and bool(valid.all())
    for map_, (i, j) in zip(maps, cells):
        assert map_[i, j] == 1 and map_.flatten().argmax().item() == i * grid[1] + j


def test_flip_permutations_of_the_joint_layouts():
    coco = flip_permutation(JOINT_NAMES["coco"])
    assert coco[:5] == [0, 2, 1, 4, 3] and len(coco) == 17  # nose, eyes and ears of Keypoint R-CNN
    mpii = flip_permutation(JOINT_NAMES["mpii"])
    assert mpii == [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]  # 0 r ankle <-> 5 l ankle, ...
    assert flip_permutation(JOINT_NAMES["synthhoi"]) == [0, 1, 2, 3, 4]  # one arm: nothing to swap
    with pytest.raises(ValueError, match="repeat"):
        flip_permutation(["nose", "nose"])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run the detector on one intra-op thread: on a busy 2-core machine two threads wait on each other (10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)


def _detector(score_threshold: float) -> KeypointDetector:
    torch.manual_seed(0)
    return KeypointDetector(score_threshold=score_threshold, min_size=64, max_size=64)


def test_detector_returns_the_best_person_per_frame(frames):
    detector = _detector(score_threshold=0.0)
    keypoints = detector.detect(frames)
    assert keypoints.shape == (2, 17, 3) and keypoints.dtype == np.float32
    assert np.all(keypoints[..., 2] == 1)
    assert np.all((keypoints[..., 0] >= 0) & (keypoints[..., 0] <= 64))
    assert np.all((keypoints[..., 1] >= 0) & (keypoints[..., 1] <= 48))
    assert detector.frames_without_person == 0


def test_detector_marks_frames_without_a_person(frames):
    detector = _detector(score_threshold=1.0)  # no score exceeds 1
    with pytest.warns(UserWarning, match="in 2 of 2 frames"):
        keypoints = detector.detect(frames)
    assert keypoints.shape == (2, 17, 3) and np.all(keypoints == 0)
    assert detector.frames_without_person == 2
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(frames.astype(np.float32))


def test_detector_weight_options(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        KeypointDetector(pretrained=True, weights_path=tmp_path / "w.pt")
    torch.save({"unrelated": torch.zeros(1)}, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="w.pt: not a keypointrcnn_resnet50_fpn state dict"):
        KeypointDetector(weights_path=tmp_path / "w.pt", min_size=64, max_size=64)


def test_cache_detects_once(frames, tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, frames)
    detector = _detector(score_threshold=0.0)
    first = cached_keypoints(video, tmp_path / "cache", detector, [1, 0, 5])
    assert first.shape == (3, 17, 3)
    np.testing.assert_array_equal(first[2], first[0])  # index 5 clamps to the last frame
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["clip.npz"]  # no temporary file left
    video.unlink()  # a second call must not decode (or detect) again
    np.testing.assert_array_equal(cached_keypoints(video, tmp_path / "cache", detector, [1, 0, 5]), first)
