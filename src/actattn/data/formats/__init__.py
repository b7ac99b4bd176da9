"""Readers of the public datasets' annotation files, one module per dataset family, all returning
the same small records.

Every reader is a plain function ``read_<format>(<its files>, ..., strict=True) -> ReadResult``
taking the official files by name (the keyword says which file: ``verb_classes=``,
``validation=`` ...) and returning:

- :class:`ReadResult`: ``format``; ``tasks`` (per task its class names: ``tasks[task][i]`` is
  class ``i``); ``splits`` (per split its :class:`Sample` list, in file order); ``multi_label``
  (the tasks whose labels are index tuples); ``skipped`` and ``notes`` (:class:`Skip` records:
  file, line or JSON item, reason).
- :class:`Sample`: ``id`` (unique in its split), ``video`` (path relative to the dataset root, as
  the dataset names it: video file, frame folder or image), ``labels`` (per task a class index, or
  for a multi-label task the tuple of positive indices; ``{}`` in an unlabelled test split),
  ``start``/``stop`` (seconds within ``video``, or ``None``: the whole video), ``ambiguous``
  (per multi-label task the classes that are neither positive nor negative: HICO's 0, VLOG's
  inconclusive), ``frames`` (1-based extracted-frame numbers, EPIC), ``boxes`` (person boxes,
  VOC action) and ``info`` (anything else the format gives, JSON-able).

Task names: ``action`` for the one task of a set (also its multi-label task); EPIC-KITCHENS has
``verb``, ``noun`` and ``action`` (the pair); MPII ``action`` and ``category``; Hollywood2's scene
ClipSets ``scene``.

Bad input never becomes a wrong label: a row with a missing field, a label not in the label file,
an id twice, an unparsable time raises ``ValueError`` naming the file and the line (or JSON item);
with ``strict=False`` it is skipped and listed in ``skipped`` instead. Quirks the real files have
(a segment with start >= stop, an ActivityNet segment without times, an unlabelled MPII image)
are always skipped and listed; a segment that ends after its video (when the reader knows the
video's length) is clipped and listed in ``notes``. Times are seconds: ``HH:MM:SS.ss`` and
numeric strings are converted (:func:`~actattn.data.formats.base.parse_timestamp`). Missing video
files are not checked here (``actattn data inspect --video-root`` counts them).

:data:`FORMATS` maps each format name to its reader and the file roles it takes (with the file
name patterns that ``actattn data inspect`` matches positional files against).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from actattn.data.formats.activitynet import read_activitynet
from actattn.data.formats.base import ReadResult, Sample, Skip, parse_timestamp
from actattn.data.formats.charades import read_charades
from actattn.data.formats.epic import read_epic55, read_epic100, write_epic100_submission
from actattn.data.formats.hacs import read_hacs_clips
from actattn.data.formats.hico import read_hico
from actattn.data.formats.hmdb51 import read_hmdb51
from actattn.data.formats.hollywood2 import read_hollywood2
from actattn.data.formats.kinetics import read_kinetics
from actattn.data.formats.mpii import read_mpii
from actattn.data.formats.plain_csv import read_csv
from actattn.data.formats.something import read_something_else, read_ssv1, read_ssv2
from actattn.data.formats.ucf101 import read_ucf101
from actattn.data.formats.vlog import read_vlog
from actattn.data.formats.voc_action import read_voc_action

__all__ = ["FORMATS", "Format", "ReadResult", "Role", "Sample", "Skip", "parse_timestamp", "read_activitynet",
           "read_charades", "read_csv", "read_epic55", "read_epic100", "read_hacs_clips", "read_hico", "read_hmdb51",
           "read_hollywood2", "read_kinetics", "read_mpii", "read_something_else", "read_ssv1", "read_ssv2",
           "read_ucf101", "read_vlog", "read_voc_action", "write_epic100_submission"]


@dataclass(frozen=True)
class Role:
    """A reader keyword that takes a file: the name patterns it matches (``fnmatch``, case-insensitive),
    whether it takes several files (a list), and whether the reader needs it."""

    keyword: str
    patterns: tuple[str, ...]
    many: bool = False
    required: bool = False


@dataclass(frozen=True)
class Format:
    """A format name's reader and its file roles."""

    name: str
    reader: Callable[..., ReadResult]
    roles: tuple[Role, ...]
    summary: str


def _split_roles(ext: str, train=("*train*",), validation=("*val*",), test=("*test*",)) -> tuple[Role, ...]:
    return (Role("train", tuple(p + ext for p in train)), Role("validation", tuple(p + ext for p in validation)),
            Role("test", tuple(p + ext for p in test)))


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("ssv1", read_ssv1, (Role("labels", ("*-labels.csv",), required=True),
                               *_split_roles(".csv", ("*-train",), ("*-validation",), ("*-test",))),
           "Something-Something V1: labels.csv + train/validation/test CSVs"),
    Format("ssv2", read_ssv2, (Role("labels", ("*-labels.json",), required=True),
                               *_split_roles(".json", ("*-train",), ("*-validation",), ("*-test",))),
           "Something-Something V2: labels.json + train/validation/test JSONs"),
    Format("something_else", read_something_else,
           (Role("labels", ("*labels.json",), required=True), Role("train", ("*train*.json",)),
            Role("validation", ("*validation*.json",))),
           "Something-Else: a split folder's labels.json + its train and/or validation JSON"),
    Format("epic55", read_epic55,
           (Role("labels", ("EPIC_train_action_labels.csv",), required=True),
            Role("verb_classes", ("EPIC_verb_classes.csv",), required=True),
            Role("noun_classes", ("EPIC_noun_classes.csv",), required=True),
            Role("video_info", ("EPIC_video_info.csv",)), Role("test_s1", ("EPIC_test_s1_timestamps.csv",)),
            Role("test_s2", ("EPIC_test_s2_timestamps.csv",))),
           "EPIC-KITCHENS-55: train action labels + verb and noun class CSVs (ORN split P01-P25 / rest)"),
    Format("epic100", read_epic100,
           (Role("verb_classes", ("EPIC_100_verb_classes*.csv",), required=True),
            Role("noun_classes", ("EPIC_100_noun_classes*.csv",), required=True),
            Role("train", ("EPIC_100_train.csv",)), Role("validation", ("EPIC_100_validation.csv",)),
            Role("test", ("EPIC_100_test_timestamps.csv",)), Role("video_info", ("EPIC_100_video_info.csv",))),
           "EPIC-KITCHENS-100: verb and noun class CSVs + train/validation/test-timestamps CSVs"),
    Format("vlog", read_vlog,
           (Role("manifest", ("manifest.txt",), required=True), Role("split_ids", ("splitId.txt",), required=True),
            Role("labels", ("hand_object_labels.txt",), required=True),
            Role("hand_object", ("hand_object.npy",), required=True)),
           "VLOG hand-object: manifest.txt, splitId.txt, hand_object_labels.txt, hand_object.npy"),
    Format("charades", read_charades,
           (Role("classes", ("*classes.txt",), required=True), Role("train", ("*train*.csv",)),
            Role("test", ("*test*.csv",))),
           "Charades: Charades_v1_classes.txt + Charades_v1_train.csv / _test.csv"),
    Format("kinetics", read_kinetics, (*_split_roles(".csv"), Role("classes", ("*.txt",))),
           "Kinetics: kinetics-N_{train,val,test}.csv (+ optional class list .txt)"),
    Format("hmdb51", read_hmdb51, (Role("split_files", ("*_test_split[123].txt",), many=True, required=True),),
           "HMDB51: the <class>_test_split<N>.txt files"),
    Format("ucf101", read_ucf101,
           (Role("class_ind", ("classInd.txt",), required=True), Role("train", ("trainlist*.txt",), many=True),
            Role("test", ("testlist*.txt",), many=True)),
           "UCF101: classInd.txt + trainlist0N.txt / testlist0N.txt"),
    Format("activitynet", read_activitynet, (Role("path", ("*.json",), required=True),),
           "ActivityNet v1.x or HACS Segments JSON"),
    Format("hacs_clips", read_hacs_clips, (Role("path", ("*clips*.csv",), required=True),),
           "HACS Clips: HACS_clips_v1.1.1.csv (kept classes + a negative class)"),
    Format("hollywood2", read_hollywood2, (Role("clipsets", ("*.txt",), many=True, required=True),),
           "Hollywood2: the ClipSets <Class>_<group>.txt files"),
    Format("voc_action", read_voc_action,
           (Role("imagesets", ("*.txt",), many=True, required=True), Role("annotations", ("Annotations",))),
           "PASCAL VOC 2012 action: ImageSets/Action/<action>_<set>.txt (+ the Annotations folder)"),
    Format("mpii", read_mpii, (Role("path", ("*.mat",), required=True),),
           "MPII Human Pose: mpii_human_pose_v1_u12_1.mat"),
    Format("hico", read_hico, (Role("path", ("*.mat",), required=True),), "HICO / HICO-DET: anno.mat"),
    Format("csv", read_csv, (*_split_roles(".csv"), Role("classes", ("*.txt",))),
           "the project's path,label CSVs (train/val/test by file name, + optional class list .txt)"),
)}
