"""One LightningDataModule for every dataset format: the official files of any format of
:data:`actattn.data.formats.FORMATS` (:mod:`actattn.data.records`), or the original two paths,
Something-Something V2 JSON and ``path,label`` CSVs by ``train_file``/``val_file``/``test_file``.

The training loader (:class:`~actattn.data.loaders.ResumableLoader`) shuffles with an ``EpochSampler`` (a ``DistributedSampler`` over the
trainer's world size, one replica without DDP) that hands each index over with its epoch: the
order and the augmentation are functions of ``(seed, epoch, index)`` and survive a resume.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actattn.data.csv_list import CsvVideoList, max_label, read_csv_list
from actattn.data.conjugates import WithConjugates
from actattn.data.loaders import SplitDataModule, check_label_options
from actattn.data.object_sources import OBJECT_SOURCES, build_object_source
from actattn.data.objects import ObjectNoise, ObjectSource
from actattn.data.pose import JOINT_NAMES
from actattn.data.records import FormatData, load_format
from actattn.data.sampling import ClipDataset
from actattn.data.ssv2 import SomethingSomethingV2, read_labels, read_split
from actattn.data.ssv2_objects import ObjectVocabulary, build_object_vocabulary
from actattn.data.transforms import (
    CROPS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    TSN_SCALES,
    TEST_CROPS,
    eval_transform,
    eval_views,
    flip_label_map,
    short_side_of,
    train_transform,
)


class VideoDataModule(SplitDataModule):
    """Datasets and loaders for train/val/test video lists in one format.

    format "ssv2": ``train_file``/``val_file``/``test_file`` are SSv2 split JSON files, with
    ``labels_file`` and ``video_dir`` (videos ``{id}{video_ext}``); ``keypoints`` reads
    ``groundtruth_dir/{id}.npz`` (csv: ``groundtruth_dir/{video stem}.npz``, from
    ``actattn keypoints``). format "csv": the files are ``path,label`` CSVs, relative paths
    resolved against ``video_dir`` if given (else each CSV's folder); ``class_names`` is optional
    (default: ``"0" .. "K-1"`` for the largest id in any split); ``multi_label`` reads
    ``;``-separated labels as multi-hot vectors (csv only). ``objects_file`` (ssv2 only) gives
    each sample ``"objects"`` from the placeholders: the object clusters are read from that JSON
    file, or built from the training split (``object_clusters`` of them if given, the Dual Attention
    paper's 307 on SSv2; every head noun otherwise) and written there for inspection and editing.
    ``short_side`` is the side frames are resized to before cropping ``size`` (default ``size * 256 / 224``). ``crop`` is the
    training crop: ``"multiscale"`` (TSN's multi-scale corner/centre crop, whose relative sides are
    ``scales``) or ``"random"`` (a ``size`` crop at a uniformly random position, the Attentional
    Pooling code's 450 of 480 for MPII and HICO; ``scales`` unused); evaluation always takes the
    centre crop. ``flip`` enables horizontal flips for the classes that
    :func:`~actattn.data.transforms.flip_label_map` allows (multi-hot labels: see
    :class:`~actattn.data.transforms.HorizontalFlip`). ``keypoint_layout`` names the joints of the
    keypoint files, a key of :data:`~actattn.data.pose.JOINT_NAMES` (``"coco"``: ``actattn
    keypoints``; ``"mpii"``; ``"synthhoi"``): a flip swaps their left and right channels, so
    ``keypoints`` with ``flip`` need it. ``num_classes`` and ``class_names`` are set by :meth:`setup`.

    ``object_source`` gives every sampled frame its object instances (:mod:`actattn.data.object_sources`:
    ``"object_masks"`` (T, K, ``object_mask_size``, ``object_mask_size``) float32 in [0, 1] and
    ``"object_classes"`` (T, K) int64, -1 for an empty slot; K padded per batch), moved with the
    crops and flips: ``"detections"`` reads ``detections_dir/{id}.npz`` from ``actattn detect``
    (COCO's 80 classes); ``"synthhoi"`` reads SynthHOI's ground truth in ``groundtruth_dir`` (an
    oracle detector; its 13 object categories and the hand); ``"something_else"`` reads the box
    files ``something_else_files`` (classes hand, object 0 .. object 3). ``object_noise``
    (``{"miss": p, "false_positive": mean per frame, "jitter": fraction}``) simulates detector
    errors, drawn from ``(seed, epoch, index)``. Videos are matched by file stem; one without
    objects raises, or is skipped with ``skip_bad_videos``. ``conjugates_file`` (the cache of
    ``actattn conjugates``, its videos relative to its folder) gives every training sample a
    ``"conjugate"`` clip (:class:`~actattn.data.conjugates.WithConjugates`, ActX).

    Official files (any ``format`` of :data:`~actattn.data.loaders.OFFICIAL_FORMATS`;
    :mod:`actattn.data.records` says how they become clips): ``files`` maps the reader's file roles to paths (a list or glob for a role of
    several files), ``reader_options`` its other keywords; ``task`` the task to learn (default the
    reader's first: EPIC ``verb``; ``noun``, ``action``); ``split`` HMDB51/UCF101's fold N
    (``trainN``/``testN``); ``splits`` the reader's split per stage (``{test: test}`` for an
    unlabelled test split, e.g. EPIC-100's submission). Videos are ``video_dir/<video>``, or frame
    folders there or under ``frames_dir`` (``frame_pattern``, e.g. ``frame_%010d.jpg``; detected
    if not given); ``frame_rate`` the rate frame folders were extracted at (default: the format's,
    EPIC 60 / 50). A missing video is an error naming it, or with ``skip_bad_videos`` a counted
    skip at setup. ``strict=False`` turns the reader's bad rows into counted skips.

    Test protocol (the test split only; validation keeps one centre clip): ``test_clips`` clips
    evenly placed in each video (or segment), ``test_crops`` 1 (centre), 3 (along the long side,
    TSM) or 10 (four corners, centre and their mirror images, TSN) per clip, and ``test_segments``
    frames per clip if it differs from ``num_segments`` (TSN's 25): a test sample holds
    ``test_clips * test_crops`` views, ``video`` ``(V, 3, T, H, W)`` and the object and keypoint
    entries ``(V, T, ...)``, whose logits :class:`~actattn.train.ActionRecognizer` averages.
    """

    def __init__(
        self,
        format: str = "ssv2",
        *,
        train_file: str | Path | None = None,
        val_file: str | Path | None = None,
        test_file: str | Path | None = None,
        labels_file: str | Path | None = None,
        video_dir: str | Path | None = None,
        video_ext: str = ".webm",
        files: dict[str, str | list[str]] | None = None,
        task: str | None = None,
        split: int | None = None,
        splits: dict[str, str | None] | None = None,
        reader_options: dict[str, Any] | None = None,
        strict: bool = True,
        frames_dir: str | Path | None = None,
        frame_pattern: str | None = None,
        frame_rate: float | None = None,
        test_clips: int = 1,
        test_crops: int = 1,
        test_segments: int | None = None,
        groundtruth_dir: str | Path | None = None,
        class_names: Sequence[str] | None = None,
        num_segments: int = 8,
        clip_stride: int | None = None,
        size: int = 224,
        short_side: int | None = None,
        crop: str = "multiscale",
        scales: Sequence[float] = TSN_SCALES,
        batch_size: int = 8,
        num_workers: int = 0,
        keypoints: bool = False,
        keypoint_layout: str | None = None,
        seed: int = 0,
        skip_bad_videos: bool = False,
        flip: bool = False,
        multi_label: bool = False,
        objects_file: str | Path | None = None,
        object_clusters: int | None = None,
        object_source: str | None = None,
        detections_dir: str | Path | None = None,
        something_else_files: Sequence[str | Path] | None = None,
        object_noise: dict[str, float] | None = None,
        object_mask_size: int = 28,
        conjugates_file: str | Path | None = None,
    ):
        super().__init__()
        check_label_options(format, files, {"train_file": train_file, "val_file": val_file, "test_file": test_file,
                                            "labels_file": labels_file})
        if files is not None and (objects_file is not None or class_names is not None):
            raise ValueError("with `files` the classes come from the official files: objects_file and class_names "
                             "need the train_file/labels_file lists")
        if test_clips < 1 or test_crops not in TEST_CROPS or (test_segments is not None and test_segments < 1):
            raise ValueError(f"test_clips must be >= 1, test_crops one of {TEST_CROPS} and test_segments >= 1, "
                             f"got {test_clips}, {test_crops}, {test_segments}")
        if files is None and format == "ssv2" and (labels_file is None or video_dir is None):
            raise ValueError("format 'ssv2' needs labels_file and video_dir")
        if files is None and format == "ssv2" and class_names is not None:
            raise ValueError("format 'ssv2' takes its class names from labels_file, not class_names")
        if format == "csv" and objects_file is not None:
            raise ValueError("object labels come from SSv2 placeholders: objects_file needs format 'ssv2'")
        if files is None and format == "ssv2" and multi_label:
            raise ValueError("format 'ssv2' is single-label; multi_label needs format 'csv'")
        if keypoints and groundtruth_dir is None:
            raise ValueError("keypoints=True needs groundtruth_dir (the folder of keypoint .npz files)")
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
        if keypoint_layout is not None and keypoint_layout not in JOINT_NAMES:
            raise ValueError(f"keypoint_layout must be one of {list(JOINT_NAMES)}, got {keypoint_layout!r}")
        if object_source is not None and object_source not in OBJECT_SOURCES:
            raise ValueError(f"object_source must be one of {OBJECT_SOURCES}, got {object_source!r}")
        ObjectNoise.from_dict(object_noise)  # fail on bad noise settings before setup
        if keypoints and flip and keypoint_layout is None:
            raise ValueError("keypoints=True with flip=True needs keypoint_layout (one of "
                             f"{list(JOINT_NAMES)}), so that a flip swaps the left and right joints")
        self.save_hyperparameters(ignore=["class_names"])  # the module logs the resolved names
        self.files = {"train": train_file, "val": val_file, "test": test_file}
        self.class_names: list[str] | None = list(class_names) if class_names is not None else None
        self.objects: ObjectVocabulary | None = None
        self.object_source: ObjectSource | None = None
        self.format_data: FormatData | None = None

    @property
    def pipeline(self) -> dict[str, Any]:
        """What rebuilds this module's evaluation input without it (kept in checkpoints): the crop
        ``size``, the resized ``short_side``, the sampling (``num_segments``, ``clip_stride``) and the
        normalisation (``mean``, ``std``)."""
        hp = self.hparams
        return {"size": hp.size, "short_side": short_side_of(hp.size, hp.short_side), "num_segments": hp.num_segments,
                "clip_stride": hp.clip_stride, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}

    @property
    def multi_label(self) -> bool:
        """Whether labels are multi-hot: the official files' task, else the ``multi_label`` setting."""
        return self.format_data.multi_label if self.format_data is not None else self.hparams.multi_label

    def _csv_class_names(self) -> list[str]:
        root = self.hparams.video_dir
        largest = max(
            (
                max_label(label)
                for file in self.files.values()
                if file is not None
                for _, label in read_csv_list(file, root=root, multi_label=self.hparams.multi_label)
            ),
            default=-1,
        )
        return [str(i) for i in range(largest + 1)]

    def _dataset(self, file: str | Path | None, split: str) -> ClipDataset:
        hp = self.hparams
        train, test = split == "train", split == "test"
        label_map = flip_label_map(self.class_names) if hp.flip else None
        joint_names = JOINT_NAMES[hp.keypoint_layout] if hp.keypoint_layout is not None else None
        if train:
            transform = train_transform(hp.size, short_side=hp.short_side, crop=hp.crop, scales=hp.scales,
                                        label_map=label_map, joint_names=joint_names)
        elif test:
            transform = eval_views(hp.size, hp.test_crops, short_side=hp.short_side, joint_names=joint_names)
        else:
            transform = eval_transform(hp.size, short_side=hp.short_side)
        common = dict(
            num_segments=hp.test_segments or hp.num_segments if test else hp.num_segments,
            train=train,
            transform=transform,
            seed=hp.seed,
            skip_bad_videos=hp.skip_bad_videos,
            clip_stride=hp.clip_stride,
            num_clips=hp.test_clips if test else 1,
        )
        if self.format_data is not None:
            dataset = ClipDataset(self.format_data.stages[split].records, object_source=self.object_source,
                                  frame_pattern=hp.frame_pattern, **common)
            dataset.class_names = self.class_names
            dataset.samples = self.format_data.stages[split].samples
            return dataset
        if hp.format == "ssv2":
            return SomethingSomethingV2(
                file,
                hp.labels_file,
                hp.video_dir,
                video_ext=hp.video_ext,
                keypoints=hp.keypoints,
                groundtruth_dir=hp.groundtruth_dir,
                objects=self.objects,
                object_source=self.object_source,
                **common,
            )
        return CsvVideoList(file, class_names=self.class_names, root=hp.video_dir, multi_label=hp.multi_label,
                            keypoints_dir=hp.groundtruth_dir if hp.keypoints else None,
                            object_source=self.object_source, **common)

    def setup(self, stage: str | None = None) -> None:
        """Read the annotation files (once) and build a dataset per given split."""
        if self.datasets:
            return
        if self.hparams.files is not None:
            self._read_official_files()
        if self.class_names is None:
            if self.hparams.format == "ssv2":
                labels = read_labels(self.hparams.labels_file)
                self.class_names = sorted(labels, key=labels.__getitem__)
            else:
                self.class_names = self._csv_class_names()
        if self.hparams.objects_file is not None:
            self.objects = self._object_vocabulary(Path(self.hparams.objects_file))
        hp = self.hparams
        if hp.object_source is not None:
            self.object_source = build_object_source(
                hp.object_source, detections_dir=hp.detections_dir, groundtruth_dir=hp.groundtruth_dir,
                something_else_files=hp.something_else_files, noise=hp.object_noise, mask_size=hp.object_mask_size)
        for split, file in self.files.items():
            if file is not None:
                self.datasets[split] = self._dataset(file, split)
        if hp.conjugates_file is not None and "train" in self.datasets:
            pairs = Path(hp.conjugates_file)
            self.datasets["train"] = WithConjugates(self.datasets["train"], pairs, pairs.parent)

    def _read_official_files(self) -> None:
        """Read ``files`` with the format's reader; count (``skip_bad_videos``) or refuse missing videos."""
        hp = self.hparams
        data = load_format(hp.format, hp.files, task=hp.task, split=hp.split, splits=hp.splits,
                           options=hp.reader_options, strict=hp.strict, video_dir=hp.video_dir,
                           frames_dir=hp.frames_dir, video_ext=hp.video_ext, frame_rate=hp.frame_rate,
                           keypoints_dir=hp.groundtruth_dir if hp.keypoints else None)
        if hp.multi_label and not data.multi_label:
            raise ValueError(f"multi_label: the {hp.format} task {data.task!r} is single-label")
        for stage, part in data.stages.items():
            if not part.missing:
                continue
            (sample_id, path), count = part.missing[0], len(part.missing)
            message = (f"{hp.format} split {part.split!r} ({stage}): {count} of {count + len(part.records)} videos "
                       f"do not exist, the first {path} (sample {sample_id})")
            if not hp.skip_bad_videos:
                raise FileNotFoundError(message + "; fix video_dir/frames_dir, or skip them with skip_bad_videos")
            warnings.warn(f"skipping missing videos: {message}", stacklevel=2)
        self.format_data, self.class_names = data, data.class_names
        self.files = {stage: part.split if stage in data.stages else None for stage, part in
                      ((stage, data.stages.get(stage)) for stage in self.files)}

    def _object_vocabulary(self, path: Path) -> ObjectVocabulary:
        """Load the (possibly hand-edited) object clusters, or build them from the training split."""
        if path.is_file():
            return ObjectVocabulary.load(path)
        if self.files["train"] is None:
            raise FileNotFoundError(f"{path} does not exist and there is no train_file to build it from")
        entries = read_split(self.files["train"], read_labels(self.hparams.labels_file))
        vocabulary = build_object_vocabulary(entries, num_clusters=self.hparams.object_clusters)
        vocabulary.save(path)
        return vocabulary

    @property
    def backbone_facts(self) -> dict[str, Any]:
        """What this data tells the backbone's constructor: nothing (pixels suit every backbone)."""
        return {}

    @property
    def head_facts(self) -> dict[str, Any]:
        """What this data tells a head's constructor (the keywords a head lists in ``from_data``),
        after setup: ``num_objects``, the object clusters including the null label, with
        ``objects_file``; ``num_object_classes``, the classes of ``object_classes``, with
        ``object_source``."""
        facts = {} if self.objects is None else {"num_objects": len(self.objects)}
        if self.object_source is not None:
            facts["num_object_classes"] = self.object_source.num_classes
        return facts
