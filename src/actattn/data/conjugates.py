"""Conjugate clips in the batch (ActX, Sec. 3.2): each training sample also carries one of its
conjugates (:mod:`actattn.conjugates`: the cache of ``actattn conjugates``), decoded and transformed
as the sample is, under the batch entry ``"conjugate"`` (3, T, H, W).

A sample is found in the cache by its key (:func:`~actattn.data.records.sample_key`: its id,
``/`` as ``_``) where the dataset was read from official files (``samples``: a segment of EPIC or
ActivityNet shares its video with others) and the cache lists that key, else by its video's file
stem (SSv2 ids, CSV rows: the feature files' names). A conjugate is frames ``[start, stop)`` of a
video file, a frame folder or an image (one frame, repeated: :func:`~actattn.data.frames.read_source`).

Choices: the conjugate is drawn uniformly among the sample's, and its frames by the sample's own
sampling (TSN segments or a dense clip) inside the conjugate's frame range, both from a generator of
(seed, epoch, index) of its own (the sample's crops stay as they are without conjugates), so a
resumed run draws the same. It
is cropped and flipped independently of the sample (the paper's conjugates are other clips, with no
pixel correspondence). A sample without a conjugate, or whose conjugate video cannot be read, is a
counted skip with ``skip_bad_videos`` and an error naming the files otherwise: the conjugate losses
need one for every sample of a batch. Conjugates are for training only.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from actattn.conjugates import load_pairs, sample_key
from actattn.data.frames import read_source
from actattn.data.sampling import ClipDataset, conjugate_rng, frame_indices
from actattn.data.video import VideoDecodeError


class WithConjugates(Dataset):
    """A training :class:`ClipDataset` whose samples also carry ``"conjugate"`` (module docstring).

    ``pairs_file`` is the conjugate cache; its videos are relative to ``root``; samples are matched
    by their key, else by their video's file stem (module docstring)."""

    def __init__(self, clips: ClipDataset, pairs_file: str | Path, root: str | Path) -> None:
        self.clips, self.root, self.pairs_file = clips, Path(root), Path(pairs_file)
        self.pairs = load_pairs(self.pairs_file)

    def __len__(self) -> int:
        return len(self.clips)

    def __getattr__(self, name: str):
        """The wrapped dataset's attributes (records, bad videos, ...), as the data module reads them."""
        if name == "clips":  # not set yet while unpickling in a loader worker
            raise AttributeError(name)
        return getattr(self.clips, name)

    def __getitem__(self, key: int | tuple[int, int]) -> dict | None:
        sample = self.clips[key]
        if sample is None:
            return None
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        name = self.key(index)
        try:
            sample["conjugate"] = self._conjugate(name, epoch, index)
        except (KeyError, VideoDecodeError) as err:
            if not self.clips.skip_bad_videos:
                raise ValueError(f"{self.pairs_file}: no usable conjugate for {name}: {err}") from None
            warnings.warn(f"skipping {name}: no usable conjugate in {self.pairs_file} ({err})", stacklevel=2)
            self.clips._bad[index] = True
            return None
        return sample

    def key(self, index: int) -> str:
        """Sample ``index``'s key in the cache: its sample's if the dataset has ``samples`` and the
        cache lists it, else its video's file stem."""
        samples = getattr(self.clips, "samples", None)
        key = None if samples is None else sample_key(samples[index].id)
        return key if key in self.pairs else self.clips.records[index].path.stem

    def _conjugate(self, key: str, epoch: int, index: int) -> torch.Tensor:
        """The conjugate clip (3, T, H, W) of sample ``index`` (cache key ``key``) in ``epoch``."""
        if key not in self.pairs:
            raise KeyError("the cache does not list it")
        choices = self.pairs[key]
        if not choices:
            raise KeyError("the cache lists none")
        rng = conjugate_rng(self.clips.seed, epoch, index)
        chosen = choices[int(rng.integers(len(choices)))]
        length = chosen.stop - chosen.start
        frames, _, _ = read_source(self.root / chosen.video, lambda _: [chosen.start + i for i in frame_indices(
            length, self.clips.num_segments, self.clips.clip_stride, train=True, rng=rng)],
            frame_pattern=self.clips.frame_pattern)
        return self.clips.transform({"frames": frames, "label": None}, rng)["video"]
