"""actattn.data.formats.hacs on a HACS Clips fixture written in the format hacs/FORMAT.md documents
(``fixtures/hacs/HACS_clips_v1.1.1.csv``: its first three rows are the README's example, the rest
made up; no HACS file could be shared). Positive training clips per class: Archery 1, Dodgeball 3,
Ironing clothes 1, Playing polo 2."""
import re
import warnings

import pytest

from actattn.data.formats import FORMATS, read_hacs_clips
from actattn.data.formats.hacs import seconds_text

HEADER = "classname,youtube_id,subset,start,end,label\n"


@pytest.fixture(scope="module")
def clips(fixtures):
    return fixtures / "hacs" / "HACS_clips_v1.1.1.csv"


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_hacs_clips(*args, **kwargs)


def test_every_class_and_the_negative_class_last(clips):
    result = read_hacs_clips(clips)
    assert result.tasks == {"action": ["Archery", "Dodgeball", "Ironing clothes", "Playing polo", "Negative"]}
    assert {s: len(v) for s, v in result.splits.items()} == {"train": 12, "validation": 5, "test": 1}
    first, negative = result.splits["train"][:2]
    assert (first.id, first.video, first.labels, first.start, first.stop) == (
        "Archery_a2X2hz1G6i8_15.5-17.5", "Archery/v_a2X2hz1G6i8.mp4", {"action": 0}, 15.5, 17.5)
    assert first.info == {"youtube_id": "a2X2hz1G6i8", "classname": "Archery", "label": 1}
    assert negative.labels == {"action": 4} and negative.video == "Archery/v_NUdji_CqvcY.mp4"
    ironing = next(s for s in result.splits["train"] if s.info["classname"] == "Ironing clothes")
    assert ironing.video == "Ironing_clothes/v_WWowbBQB1lU.mp4"  # download_videos.py's folder: spaces as _
    assert ironing.id == "Ironing_clothes_WWowbBQB1lU_10.5-12.5"
    assert result.splits["test"][0].labels == {"action": 3}  # testing rows are read as the file gives them
    assert not result.skipped and not result.notes


def test_fewest_positives_keep_those_classes_and_their_own_negatives(clips):
    with pytest.warns(UserWarning, match="changed 1 rows"):
        result = read_hacs_clips(clips, fewest_positives=3)
    assert result.tasks["action"] == ["Archery", "Ironing clothes", "Playing polo", "Negative"]  # Dodgeball: 3
    assert {s: len(v) for s, v in result.splits.items()} == {"train": 8, "validation": 4, "test": 1}
    assert all(s.info["classname"] != "Dodgeball" for s in result.samples())
    assert [s.labels["action"] for s in result.splits["validation"]] == [0, 3, 1, 3]
    (note,) = result.notes
    assert note.line is None and note.reason == "dropped the 5 rows of the 1 classes not kept (Dodgeball)"
    assert quiet(clips, fewest_positives=1).tasks["action"] == ["Archery", "Negative"]  # a tie by name
    assert quiet(clips, fewest_positives=2).tasks["action"] == ["Archery", "Ironing clothes", "Negative"]


def test_explicit_classes_keep_their_order_and_name_the_negative_class(clips):
    result = quiet(clips, classes=["Playing polo", "Archery"], negative_class="Background")
    assert result.tasks["action"] == ["Playing polo", "Archery", "Background"]
    assert [s.labels["action"] for s in result.splits["train"]] == [1, 2, 2, 0, 0, 2]
    with pytest.raises(ValueError, match=r"HACS_clips_v1.1.1.csv: classes \['Archery '\] are not classes"):
        read_hacs_clips(clips, classes=["Archery "])
    with pytest.raises(ValueError, match="not both"):
        read_hacs_clips(clips, classes=["Archery"], fewest_positives=1)
    with pytest.raises(ValueError, match=r"fewest_positives must be in 1..4"):
        read_hacs_clips(clips, fewest_positives=5)
    with pytest.raises(ValueError, match="negative_class 'Archery' is also an action class"):
        read_hacs_clips(clips, negative_class="Archery")


@pytest.mark.parametrize(("row", "message"), [
    ("Archery,abc,training,1.5,3.5,2", "label 2 is not 1 (positive) or -1"),
    ("Archery,abc,train,1.5,3.5,1", "subset 'train' is not training"),
    ("Archery,abc,training,1.5,x,1", "end 'x' is not a number"),
    ("Archery,abc,training,1.5,3.5", "expected 6 fields, got 5"),
    (",abc,training,1.5,3.5,1", "empty classname"),
    ("Archery,a2X2hz1G6i8,training,15.5,17.5,-1", "occurs twice (first at line 2)"),
])
def test_bad_rows_name_the_file_and_line_or_are_listed(clips, tmp_path, row, message):
    path = tmp_path / "HACS_clips.csv"
    path.write_text(clips.read_text() + row + "\n")
    with pytest.raises(ValueError, match=rf"HACS_clips.csv, line 20: .*{re.escape(message)}"):
        read_hacs_clips(path)
    result = quiet(path, strict=False)
    assert [(s.line, message in s.reason) for s in result.skipped] == [(20, True)]
    assert len(result.samples()) == 18


def test_a_clip_that_ends_before_it_starts_is_always_skipped(tmp_path):
    (tmp_path / "c.csv").write_text(HEADER + "Archery,abc,training,3.5,3.5,1\nArchery,abd,training,1,3,1\n")
    with pytest.warns(UserWarning, match="skipped 1"):
        result = read_hacs_clips(tmp_path / "c.csv")
    assert [s.id for s in result.splits["train"]] == ["Archery_abd_1-3"] and result.skipped[0].line == 2
    (tmp_path / "h.csv").write_text("name,youtube_id\n")
    with pytest.raises(ValueError, match=r"h.csv, line 1: expected the columns classname,youtube_id"):
        read_hacs_clips(tmp_path / "h.csv")


def test_times_in_ids_are_the_shortest_decimal():
    assert [seconds_text(t) for t in (15.5, 100.0, 0.25, 1234.5)] == ["15.5", "100", "0.25", "1234.5"]


def test_registered_with_its_file_role():
    spec = FORMATS["hacs_clips"]
    assert spec.reader is read_hacs_clips and [role.keyword for role in spec.roles] == ["path"]
