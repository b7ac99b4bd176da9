"""actattn.data.formats.activitynet on the real ActivityNet v1.3 (old) excerpt (annotations/README.md
section 9) and on a HACS Segments fixture written in the format hacs/FORMAT.md documents
(``fixtures/hacs/HACS_segments_v1.1.1.json``: no HACS file could be shared)."""
import json
import warnings

import pytest

from actattn.data.formats import read_activitynet
from actattn.data.formats.activitynet import taxonomy_classes


@pytest.fixture(scope="module")
def anet(annotations):
    return annotations / "activitynet" / "activity_net.v1-3_old.min.json"


def test_real_excerpt(anet):
    result = read_activitynet(anet)
    names = result.tasks["action"]
    assert len(names) == 200 and names == sorted(names)
    assert "Playing volleyball" in names and "Playing beach volleyball" in names  # leaf by id, parent by name
    assert "Root" not in names and "Playing sports" not in names
    assert {s: len(v) for s, v in result.splits.items()} == {"train": 26, "validation": 10, "test": 11}
    first = result.splits["train"][0]
    assert (first.id, first.video, first.start, first.stop) == ("sJFgo9H6zNo_0", "v_sJFgo9H6zNo.mp4", 0.01,
                                                                123.42336739937599)
    assert names[first.labels["action"]] == "Fun sliding down" and first.info["duration"] == 139.042
    assert all(s.labels == {} and s.start is None for s in result.splits["test"])
    assert not result.skipped and not result.notes


def test_leaves_by_name_would_miss_playing_volleyball(anet):
    taxonomy = json.loads(anet.read_text())["taxonomy"]
    parent_names = {node["parentName"] for node in taxonomy}
    assert len([n for n in taxonomy_classes(taxonomy, anet) if n not in parent_names]) == 199


def test_segment_after_the_end_is_clipped(anet, tmp_path):
    data = json.loads(anet.read_text())
    data["database"]["sJFgo9H6zNo"]["annotations"][0]["segment"][1] = 139.04231746031745
    (tmp_path / "a.json").write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="changed 1 rows"):
        result = read_activitynet(tmp_path / "a.json")
    assert result.splits["train"][0].stop == 139.042
    assert result.notes[0].item == "database['sJFgo9H6zNo'] segment 0" and "clipped" in result.notes[0].reason


def test_unknown_label_is_an_error(anet, tmp_path):
    data = json.loads(anet.read_text())
    data["database"]["sJFgo9H6zNo"]["annotations"][0]["label"] = "Fun sliding up"
    (tmp_path / "a.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"a.json, database\['sJFgo9H6zNo'\] segment 0: unknown class 'Fun sliding up'"):
        read_activitynet(tmp_path / "a.json")


def test_hacs_segments_fixture(fixtures):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = read_activitynet(fixtures / "hacs" / "HACS_segments_v1.1.1.json")
    assert result.tasks == {"action": ["Archery", "Dodgeball"]}  # no taxonomy: the labels read
    train = result.splits["train"]
    assert [(s.id, s.start, s.stop) for s in train] == [("--0edUL8zmA_0", 5.4, 11.6), ("--0edUL8zmA_1", 12.6, 92.166667)]
    assert train[0].info["duration"] == 92.166667  # a string in the file
    assert [s.id for s in result.splits["validation"]] == ["a2X2hz1G6i8_0"]
    assert [s.id for s in result.splits["test"]] == ["NUdji_CqvcY"]
    assert [(s.item, s.reason.split(":")[0]) for s in result.skipped] == [
        ("database['a2X2hz1G6i8'] segment 1", "missing timestamps"),
        ("database['a2X2hz1G6i8'] segment 2", "segment start 30.0 s is not before its end 30.0 s")]
    assert len(result.notes) == 1
