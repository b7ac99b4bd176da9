"""actattn.data.formats.ucf101 on the real UCF101 split excerpts (annotations/README.md sections 5a, 11)."""
import pytest

from actattn.data.formats import read_ucf101


@pytest.fixture(scope="module")
def ucf(annotations):
    return annotations / "ucf101"


def test_three_splits_crlf(ucf):
    assert b"\r\n" in (ucf / "trainlist01.txt").read_bytes()
    result = read_ucf101(ucf / "classInd.txt", train=[ucf / f"trainlist0{n}.txt" for n in (1, 2, 3)],
                         test=[ucf / f"testlist0{n}.txt" for n in (1, 2, 3)])
    names = result.tasks["action"]
    assert len(names) == 101 and names[0] == "ApplyEyeMakeup" and names[36] == "HandstandPushups"  # id 37, 1-based
    assert {s: len(v) for s, v in result.splits.items()} == {
        "train1": 200, "test1": 200, "train2": 110, "test2": 110, "train3": 110, "test3": 110}
    first = result.splits["train1"][0]
    assert (first.id, first.video, first.labels) == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
                                                     "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", {"action": 0})
    # the file names spell HandStandPushups, the folder and classInd HandstandPushups: the folder decides
    hand = [s for s in result.splits["test1"] if "HandStandPushups" in s.video]
    assert len(hand) == 10 and {s.labels["action"] for s in hand} == {36}
    assert names[result.splits["test1"][-1].labels["action"]] == "YoYo"  # test lines carry no label


def test_lf_copy_reads_the_same(ucf, tmp_path):
    for name in ("classInd.txt", "trainlist01.txt"):
        (tmp_path / name).write_bytes((ucf / name).read_bytes().replace(b"\r\n", b"\n"))
    lf = read_ucf101(tmp_path / "classInd.txt", train=tmp_path / "trainlist01.txt")
    crlf = read_ucf101(ucf / "classInd.txt", train=ucf / "trainlist01.txt")
    assert lf.splits == crlf.splits and lf.tasks == crlf.tasks


def test_bad_lines(ucf, tmp_path):
    for body, message in {"ApplyLipstick/v_ApplyLipstick_g01_c01.avi 1\n": "disagrees with the folder",
                          "Juggling/v_Juggling_g01_c01.avi 1\n": "unknown class folder 'Juggling'",
                          "ApplyEyeMakeup/v_a.avi\n": "expected",
                          "ApplyEyeMakeup/v_a.avi 1\nApplyEyeMakeup/v_a.avi 1\n": "occurs twice"}.items():
        (tmp_path / "trainlist01.txt").write_text(body)
        with pytest.raises(ValueError, match=rf"trainlist01.txt, line \d: .*{message}"):
            read_ucf101(ucf / "classInd.txt", train=tmp_path / "trainlist01.txt")
    with pytest.raises(ValueError, match="trainlist0N"):
        read_ucf101(ucf / "classInd.txt", train=ucf / "classInd.txt")
