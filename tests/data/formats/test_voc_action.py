"""actattn.data.formats.voc_action on a fixture written in the format pascal-voc-2012-action/FORMAT.md
documents (``fixtures/voc_action/``: no original VOC action file was found; the XML of 2012_004331 is
the one quoted there)."""
import shutil

import pytest

from actattn.data.formats import read_voc_action
from actattn.data.formats.voc_action import read_voc_persons


def _sets(folder):
    return sorted((folder / "ImageSets" / "Action").glob("*.txt")) or sorted((folder / "Action").glob("*.txt"))


def test_fixture_with_boxes(fixtures):
    folder = fixtures / "voc_action"
    result = read_voc_action(_sets(folder), annotations=folder / "Annotations")
    assert result.tasks == {"action": ["jumping", "running", "walking"]}  # the devkit's order
    trainval = result.splits["trainval"]
    assert [s.id for s in trainval] == ["2012_004331/1", "2010_000002/1", "2010_000002/2"]
    first = trainval[0]
    assert (first.video, first.labels, first.boxes) == ("JPEGImages/2012_004331.jpg", {"action": (1,)},
                                                        ((102.0, 25.0, 208.0, 230.0),))
    assert trainval[2].labels == {"action": (2,)} and trainval[2].ambiguous == {"action": (1,)}  # a 0 line
    assert trainval[2].boxes == ((350.0, 60.0, 480.5, 330.0),)
    assert result.splits["test"][0].labels == {}  # test lines have no label column
    assert result.splits["test"][0].boxes == ((100.0, 50.0, 200.0, 300.0),)  # its XML has no <actions>


def test_persons_of_an_xml(fixtures):
    persons = read_voc_persons(fixtures / "voc_action" / "Annotations" / "2010_000002.xml")
    assert [(p.name, p.actions) for p in persons] == [("person", ("jumping",)), ("person", ("walking",))]


def test_xml_must_agree(fixtures, tmp_path):
    folder = tmp_path / "voc"
    shutil.copytree(fixtures / "voc_action", folder)
    xml = folder / "Annotations" / "2012_004331.xml"
    xml.write_text(xml.read_text().replace("<running>1</running>", "<running>0</running>"))
    with pytest.raises(ValueError, match=r"2012_004331.xml: person 2012_004331/1: <actions> \[\] disagree"):
        read_voc_action(_sets(folder), annotations=folder / "Annotations")
    assert len(read_voc_action(_sets(folder)).splits["trainval"]) == 3  # without the XMLs: labels only


def test_bad_imagesets(fixtures, tmp_path):
    sets = tmp_path / "Action"
    shutil.copytree(fixtures / "voc_action" / "ImageSets" / "Action", sets)
    (sets / "walking_trainval.txt").write_text("2012_004331  1 -1\n2010_000002  1 -1\n")
    with pytest.raises(ValueError, match=r"walking_trainval.txt: person 2010_000002/2 is missing"):
        read_voc_action(_sets(tmp_path))
    (sets / "walking_trainval.txt").write_text("2012_004331  1 2\n")
    with pytest.raises(ValueError, match=r"walking_trainval.txt, line 1: label '2'"):
        read_voc_action(_sets(tmp_path))
    (sets / "walking_trainval.txt").unlink()
    (sets / "walking_test.txt").unlink()
    (sets / "dancing_trainval.txt").write_text("")
    with pytest.raises(ValueError, match="dancing_trainval.txt: expected a file named <action>_<set>.txt"):
        read_voc_action(_sets(tmp_path))


def test_missing_xml(fixtures, tmp_path):
    folder = tmp_path / "voc"
    shutil.copytree(fixtures / "voc_action", folder)
    (folder / "Annotations" / "2011_000001.xml").unlink()
    with pytest.raises(ValueError, match=r"2011_000001.xml: person 2011_000001/1: no annotation XML"):
        read_voc_action(_sets(folder), annotations=folder / "Annotations")
