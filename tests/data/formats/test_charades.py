"""actattn.data.formats.charades on a fixture written in the format charades/FORMAT.md documents
(``fixtures/charades/``: Charades' licence forbids sharing its files)."""
import shutil

import pytest

from actattn.data.formats import read_charades


def test_fixture(fixtures):
    folder = fixtures / "charades"
    with pytest.warns(UserWarning):
        result = read_charades(folder / "Charades_v1_classes.txt", train=folder / "Charades_v1_train.csv",
                               test=folder / "Charades_v1_test.csv")
    assert result.tasks["action"][0] == "Holding some clothes" and len(result.tasks["action"]) == 4
    assert result.multi_label == {"action"}
    train = result.splits["train"]
    assert [s.id for s in train] == ["46GP8", "N11GT", "KRF68"]
    assert (train[0].video, train[0].labels, train[0].start) == ("46GP8.mp4", {"action": (0, 2)}, None)
    assert train[0].info["intervals"] == [[2, 11.9, 21.2], [0, 0.0, 12.6]]
    assert train[1].info["intervals"][2] == [0, 5.2, 31.0]  # 33.00 clipped to the length 31.00
    assert train[2].labels == {"action": ()} and train[2].info["intervals"] == []  # no actions
    assert [str(n).split(": ", 1)[1] for n in result.notes] == ["c000 end 33.0 s clipped to the length 31.0 s"]
    test = result.splits["test"][0]
    assert test.labels == {"action": (3,)}  # its c000 interval 4.25-4.25 is skipped
    assert result.skipped[0].line == 2 and "not before" in result.skipped[0].reason


def test_bad_rows(fixtures, tmp_path):
    folder = fixtures / "charades"
    header, row = (folder / "Charades_v1_train.csv").read_text().splitlines()[:2]
    for bad, message in {row.replace("c002 11.90", "c157 11.90"): "unknown class 'c157'",
                         row.replace("c002 11.90 21.20", "c002 11.90"): "not 'cNNN START END'",
                         row.replace(",24.83", ","): "length ''", row + "\n" + row: "occurs twice"}.items():
        (tmp_path / "t.csv").write_text(f"{header}\n{bad}\n")
        with pytest.raises(ValueError, match=rf"t.csv, line \d: .*{message}"):
            read_charades(folder / "Charades_v1_classes.txt", train=tmp_path / "t.csv")
    shutil.copy(folder / "Charades_v1_classes.txt", tmp_path / "c.txt")
    with open(tmp_path / "c.txt", "a") as file:
        file.write("c009 Skipped a number\n")
    with pytest.raises(ValueError, match=r"c.txt, line 5: expected 'c004 <name>'"):
        read_charades(tmp_path / "c.txt")
