"""actattn.data.formats.base: timestamps, the problem collector, line endings."""
import pytest

from actattn.data.formats.base import Problems, RowError, Sample, parse_seconds, parse_timestamp, read_lines


def test_parse_timestamp():
    assert parse_timestamp("00:00:00.14") == 0.14
    assert parse_timestamp("00:01:02.50") == 62.5
    assert parse_timestamp("01:00:01.089") == 3601.089
    assert parse_timestamp("00:00:05") == 5.0
    for bad in ("00:61:00.00", "1.5", "00:00:xx", ""):
        with pytest.raises(RowError, match="HH:MM:SS"):
            parse_timestamp(bad)


def test_parse_seconds_takes_numeric_strings():
    assert parse_seconds("92.166667") == 92.166667
    assert parse_seconds(3) == 3.0
    for bad in (None, "x", -1, float("nan"), True):
        with pytest.raises(RowError):
            parse_seconds(bad)


def test_problems_raise_when_strict_and_count_otherwise():
    with pytest.raises(ValueError, match=r"^f.csv, line 3: bad row$"):
        Problems(strict=True).bad("f.csv", 3, "bad row")
    problems = Problems(strict=False)
    problems.bad("f.csv", 3, "bad row")
    problems.skip("g.json", None, "no times", "entry 2")
    with pytest.warns(UserWarning, match="skipped 2 rows"):
        result = problems.result("x", {"action": ["a"]}, {"train": [Sample("1", "1.mp4", {"action": 0})]})
    assert [str(s) for s in result.skipped] == ["f.csv, line 3: bad row", "g.json, entry 2: no times"]
    assert result.samples()[0].labels == {"action": 0}


def test_read_lines_crlf_lf_and_no_final_newline(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"x\r\ny\r\n")
    (tmp_path / "b.txt").write_bytes(b"x\ny")
    assert read_lines(tmp_path / "a.txt") == read_lines(tmp_path / "b.txt") == ["x", "y"]

