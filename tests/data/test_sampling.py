"""actattn.data.sampling: TSN segments, dense clips, per-sample generators, the clip dataset base."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from actattn.data.sampling import (
    ClipDataset,
    ClipRecord,
    EpochSampler,
    clip_indices,
    frame_indices,
    read_keypoints,
    sample_rng,
    segment_indices,
)
from actattn.data.transforms import eval_transform, train_transform
from actattn.data.video import VideoDecodeError, write_video


def test_segments_at_test_are_centres():
    assert segment_indices(16, 4, train=False) == [2, 6, 10, 14]
    assert segment_indices(10, 3, train=False) == [1, 5, 8]


def test_segments_in_training_stay_in_their_segment_and_vary():
    seen = set()
    for seed in range(50):
        indices = segment_indices(17, 4, train=True, rng=np.random.default_rng(seed))
        for k, i in enumerate(indices):
            assert k * 17 / 4 - 1 < i < (k + 1) * 17 / 4  # inside segment k
        seen.add(tuple(indices))
    assert len(seen) > 10


def test_fewer_frames_than_segments_repeat_frames_in_order():
    assert segment_indices(3, 6, train=False) == [0, 0, 1, 1, 2, 2]
    for seed in range(20):
        indices = segment_indices(3, 8, train=True, rng=np.random.default_rng(seed))
        assert indices == sorted(indices) and set(indices) <= {0, 1, 2} and len(indices) == 8


def test_one_frame_and_empty_videos():
    assert segment_indices(1, 5, train=True, rng=np.random.default_rng(0)) == [0] * 5
    assert clip_indices(1, 4, 2, train=False) == [0] * 4
    with pytest.raises(ValueError, match="0 frames"):
        segment_indices(0, 8, train=False)
    with pytest.raises(ValueError, match="0 frames"):
        clip_indices(0, 8, 1, train=False)
    with pytest.raises(ValueError, match="rng"):
        segment_indices(10, 2, train=True, rng=None)


def test_dense_clip_centred_random_and_padded():
    assert clip_indices(20, 4, 2, train=False) == [6, 8, 10, 12]
    starts = {clip_indices(20, 4, 2, train=True, rng=np.random.default_rng(s))[0] for s in range(100)}
    assert starts == set(range(14))  # every start from 0 to 20 - 7
    assert clip_indices(5, 4, 2, train=True, rng=np.random.default_rng(0)) == [0, 2, 4, 4]


def test_sample_rng_depends_on_seed_epoch_and_index():
    draw = lambda *key: sample_rng(*key).random(4).tolist()  # noqa: E731
    assert draw(0, 1, 2) == draw(0, 1, 2)
    assert len({tuple(draw(*key)) for key in [(0, 1, 2), (1, 1, 2), (0, 2, 2), (0, 1, 3)]}) == 4


def test_read_keypoints_clamps_and_checks(tmp_path):
    path = tmp_path / "gt.npz"
    np.savez(path, keypoints=np.arange(4 * 2 * 3, dtype=np.float64).reshape(4, 2, 3))
    picked = read_keypoints(path, [0, 3, 9])
    assert picked.shape == (3, 2, 3) and picked.dtype == np.float32
    np.testing.assert_array_equal(picked[2], picked[1])
    np.savez(tmp_path / "bad.npz", boxes=np.zeros(3))
    with pytest.raises(ValueError, match="bad.npz.*no 'keypoints'"):
        read_keypoints(tmp_path / "bad.npz", [0])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Two 12-frame 48x64 videos whose frame t has brightness 20 * t (video 1 inverted)."""
    root = tmp_path_factory.mktemp("videos")
    ramp = (20 * np.arange(12, dtype=np.uint8))[:, None, None, None]
    frames = np.broadcast_to(ramp, (12, 48, 64, 3)).copy()
    frames[:, :, :20] = 0  # an asymmetric stripe, so crops differ
    write_video(root / "a.mp4", frames)
    write_video(root / "b.mp4", 255 - frames)
    write_video(root / "one.mp4", frames[:1])
    return root


def _dataset(videos, train, **kwargs):
    records = [ClipRecord(videos / "a.mp4", 0), ClipRecord(videos / "b.mp4", None)]
    transform = train_transform(32) if train else eval_transform(32)
    return ClipDataset(records, num_segments=4, train=train, transform=transform, **kwargs)


def test_sample_layout_and_unlabelled(videos):
    data = _dataset(videos, train=False)
    sample = data[1]
    assert sample["video"].shape == (3, 4, 32, 32) and sample["video"].dtype == torch.float32
    assert sample["label"].dtype == torch.int64 and sample["label"].item() == -1 and sample["index"] == 1
    assert data[0]["label"].item() == 0
    means = sample["video"].mean(dim=(0, 2, 3))
    assert torch.all(means[1:] < means[:-1])  # inverted ramp: later segments are darker


def test_training_is_reproducible_per_epoch(videos):
    data = _dataset(videos, train=True, seed=3)
    first = [data[0, 0]["video"] for _ in range(2)]
    torch.testing.assert_close(first[0], first[1])
    clips = {epoch: data[0, epoch]["video"] for epoch in range(6)}
    assert any(not torch.equal(clips[0], clips[e]) for e in range(1, 6))
    torch.testing.assert_close(data[0]["video"], clips[0])  # a bare index is epoch 0
    assert not torch.equal(_dataset(videos, train=True, seed=4)[0, 0]["video"], clips[0])


def test_epoch_sampler_hands_the_epoch_to_persistent_workers(videos):
    data = _dataset(videos, train=True, seed=1)
    sampler = EpochSampler(data, num_replicas=1, rank=0, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=2, sampler=sampler, num_workers=1, persistent_workers=True)
    for epoch in (0, 5):
        sampler.set_epoch(epoch)
        keys = list(sampler)
        assert all(e == epoch for _, e in keys) and sorted(i for i, _ in keys) == list(range(len(data)))
        batch = next(iter(loader))
        expected = torch.stack([data[key]["video"] for key in keys[:2]])
        torch.testing.assert_close(batch["video"], expected)


def test_dense_clip_sampling(videos):
    data = _dataset(videos, train=False, clip_stride=3)
    assert frame_indices(12, 4, 3, train=False) == [1, 4, 7, 10]
    assert data[0]["video"].shape == (3, 4, 32, 32)


def test_bad_video_raises_or_is_skipped_once(videos):
    records = [ClipRecord(videos / "missing.mp4", 0), ClipRecord(videos / "a.mp4", 1)]
    strict = ClipDataset(records, num_segments=2, train=False, transform=eval_transform(32))
    with pytest.raises(VideoDecodeError, match="missing.mp4"):
        strict[0]
    lenient = ClipDataset(records, num_segments=2, train=False, transform=eval_transform(32), skip_bad_videos=True)
    with pytest.warns(UserWarning, match="missing.mp4"):
        assert lenient[0] is None
    assert lenient[0] is None  # remembered: no second decode, no second warning
    assert lenient.num_bad_videos == 1 and lenient.bad_videos == [videos / "missing.mp4"]
    assert lenient[1]["video"].shape == (3, 2, 32, 32)


def test_one_frame_video_warns_and_repeats(videos):
    data = ClipDataset([ClipRecord(videos / "one.mp4", 0)], num_segments=3, train=False, transform=eval_transform(32))
    with pytest.warns(UserWarning, match="one.mp4.*single frame"):
        video = data[0]["video"]
    torch.testing.assert_close(video[:, 0], video[:, 2])


def test_test_clips_are_evenly_placed_and_one_clip_is_the_centre() -> None:
    assert frame_indices(40, 4, None, train=False) == frame_indices(40, 4, None, train=False, clip=0, num_clips=1)
    assert frame_indices(40, 4, None, train=False, clip=0, num_clips=2) == [2, 12, 22, 32]  # a quarter of each span
    assert frame_indices(40, 4, None, train=False, clip=1, num_clips=2) == [7, 17, 27, 37]  # three quarters
    assert frame_indices(20, 3, 2, train=False, clip=0, num_clips=3) == [2, 4, 6]  # slack 15: starts 2, 7, 12
    assert frame_indices(20, 3, 2, train=False, clip=2, num_clips=3) == [12, 14, 16]
    with pytest.raises(ValueError, match="clip 2 is not one of the 2 clips"):
        frame_indices(20, 3, None, train=False, clip=2, num_clips=2)
