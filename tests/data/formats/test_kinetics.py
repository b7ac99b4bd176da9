"""actattn.data.formats.kinetics on the real Kinetics-400/600 excerpts (annotations/README.md section 5c)."""
import pytest

from actattn.data.formats import read_kinetics


@pytest.fixture(scope="module")
def kinetics(annotations):
    return annotations / "kinetics"


def test_k400_quoted_labels_and_test(kinetics):
    assert b'"air drumming"' in (kinetics / "kinetics-400_val.csv").read_bytes()
    result = read_kinetics(validation=kinetics / "kinetics-400_val.csv", test=kinetics / "kinetics-400_test.csv")
    names = result.tasks["action"]
    assert names == ["abseiling", "air drumming", "answering questions", "applauding", "applying cream"]
    validation, test = result.splits["validation"], result.splits["test"]
    assert (len(validation), len(test)) == (200, 50)
    first = validation[0]
    assert (first.id, first.video, first.labels) == ("0wR5jVB-WPk_000417_000427",
                                                     "abseiling/0wR5jVB-WPk_000417_000427.mp4", {"action": 0})
    assert first.info == {"youtube_id": "0wR5jVB-WPk", "time_start": 417, "time_end": 427}
    assert first.start is None and first.stop is None  # the trimmed clip is the sample
    assert sum(names[s.labels["action"]] == "air drumming" for s in validation) == 49
    assert test[0].id == "--6bJUbfpnQ_000017_000027" and test[0].labels == {}  # ids may start with '-'
    assert test[0].video == "test/--6bJUbfpnQ_000017_000027.mp4"


def test_k600_unquoted_without_is_cc(kinetics):
    assert b"is_cc" not in (kinetics / "kinetics-600_val.csv").read_bytes().splitlines()[0]
    result = read_kinetics(validation=kinetics / "kinetics-600_val.csv", test=kinetics / "kinetics-600_test.csv")
    assert result.tasks["action"] == ["abseiling", "acting in play", "adjusting glasses", "air drumming"]
    assert len(result.splits["validation"]) == 200 and len(result.splits["test"]) == 50
    assert result.splits["test"][30].info["youtube_id"] == "-wrnx4pGDIs"


def test_class_list_and_bad_rows(kinetics, tmp_path):
    (tmp_path / "classes.txt").write_text("abseiling\nair drumming\n")
    with pytest.raises(ValueError, match=r"kinetics-400_val.csv, line 101: unknown class 'answering questions'"):
        read_kinetics(validation=kinetics / "kinetics-400_val.csv", classes=tmp_path / "classes.txt")
    head = "label,youtube_id,time_start,time_end,split\n"
    for body, message in {"abseiling,abc,1,x,val\n": "time_end 'x'", "abseiling,abc,1\n": "expected 5 fields",
                          "abseiling,abc,1,11,val\nabseiling,abc,1,11,val\n": "occurs twice",
                          ",abc,1,11,val\n": "empty label"}.items():
        (tmp_path / "v.csv").write_text(head + body)
        with pytest.raises(ValueError, match=rf"v.csv, line \d: .*{message}"):
            read_kinetics(validation=tmp_path / "v.csv")
    (tmp_path / "v.csv").write_text(head + "abseiling,abc,11,11,val\nabseiling,abd,1,11,val\n")
    with pytest.warns(UserWarning, match="skipped 1"):
        result = read_kinetics(validation=tmp_path / "v.csv")
    assert [s.id for s in result.splits["validation"]] == ["abd_000001_000011"] and result.skipped[0].line == 2
