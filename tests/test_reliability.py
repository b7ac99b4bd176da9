"""Bad input as a user meets it, through the `actattn` command: each ends in one line that says
what is wrong and where, or is skipped and counted. (Damaged checkpoints and a killed run are in
test_checkpoint.py, config mistakes in test_config.py, truncated and empty videos in
data/test_video.py.)"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from actattn.cli import main
from actattn.data.video import VideoDecodeError
from actattn.experiment import fit, merged


@pytest.fixture(scope="module")
def run(make_config, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One epoch on the tiny scenes: its config and last.ckpt (6 classes)."""
    config = merged(make_config(tmp_path_factory.mktemp("reliability") / "run"), trainer={"max_epochs": 1})
    fit(config)
    return config, Path(config["out"]) / "checkpoints" / "last.ckpt"


def write_config(config: dict, folder: Path, name: str = "config.yaml") -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def error_line(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """Run ``actattn argv``, which must fail with exit status 1; its one error line (stderr's last)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_a_reordered_labels_file_is_refused_by_test(run, tmp_path: Path, capsys) -> None:
    config, checkpoint = run
    labels = json.loads(Path(config["data"]["labels_file"]).read_text())
    names = sorted(labels, key=lambda name: int(labels[name]))
    swapped = tmp_path / "labels.json"
    swapped.write_text(json.dumps({name: str(i) for i, name in enumerate([names[1], names[0], *names[2:]])}))
    path = write_config(merged(config, data={"labels_file": str(swapped)}), tmp_path)
    line = error_line(capsys, "test", "--config", path, "--checkpoint", str(checkpoint))
    assert line == (f"actattn test: error: the label space of {swapped} differs from checkpoint {checkpoint}'s: "
                    f"class 0 is {names[1]!r} in the data, {names[0]!r} in the checkpoint")


def csv_data(config: dict, rows: list[tuple[Path, int]], folder: Path, **data: object) -> dict:
    """``config`` reading a ``path,label`` CSV of ``rows`` as its test split."""
    listing = folder / "list.csv"
    with open(listing, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    files = {"format": "csv", "train_file": None, "val_file": None, "test_file": str(listing)}
    section = {k: v for k, v in config["data"].items() if k not in ("labels_file", "video_ext")} | files | data
    return config | {"data": section}


def test_a_label_outside_the_checkpoints_classes_is_refused(run, tmp_path: Path, capsys) -> None:
    config, checkpoint = run
    video = next(Path(config["data"]["video_dir"]).glob("*.mp4"))
    path = write_config(csv_data(config, [(video, 0), (video, 99)], tmp_path), tmp_path)
    line = error_line(capsys, "test", "--config", path, "--checkpoint", str(checkpoint))
    assert line.endswith(f"differs from checkpoint {checkpoint}'s: 100 classes in the data, 6 in the checkpoint")


def test_a_truncated_video_is_an_error_or_a_counted_skip(run, truncated_bikes: Path, tmp_path: Path, capsys) -> None:
    config, checkpoint = run
    names = json.loads(Path(config["data"]["labels_file"]).read_text())
    names = sorted(names, key=lambda name: int(names[name]))
    videos = sorted(Path(config["data"]["video_dir"]).glob("*.mp4"))[:3]
    rows = [(truncated_bikes, 0), *((video, 1) for video in videos)]
    strict = write_config(csv_data(config, rows, tmp_path, class_names=names, num_workers=2), tmp_path, "strict.yaml")
    line = error_line(capsys, "test", "--config", strict, "--checkpoint", str(checkpoint))
    assert line.startswith(f"actattn test: error: {truncated_bikes}: ends after 74 of the 250 frames its container "
                           "lists (truncated or damaged) (")  # then FFmpeg's own words
    lenient = write_config(csv_data(config, rows, tmp_path, class_names=names, skip_bad_videos=True), tmp_path)
    with pytest.warns(UserWarning, match="skipping a bad video: .*bikes-truncated.mp4: ends after 74"):
        main(["test", "--config", lenient, "--checkpoint", str(checkpoint)])
    metrics = json.loads((Path(config["out"]) / "test_metrics.json").read_text())
    assert (metrics["clips"], metrics["skipped"]) == (3, 1)


def test_skipped_training_videos_are_counted_per_epoch(tiny_config: dict, tmp_path: Path) -> None:
    videos = Path(tiny_config["data"]["video_dir"])
    copy = tmp_path / "videos"
    copy.mkdir()
    for video in videos.glob("*.mp4"):
        (copy / video.name).write_bytes(video.read_bytes())
    first_two = [entry["id"] for entry in json.loads(Path(tiny_config["data"]["train_file"]).read_text())[:2]]
    for clip_id in first_two:
        (copy / f"{clip_id}.mp4").write_bytes(b"not a video")
    config = merged(tiny_config, data={"video_dir": str(copy), "skip_bad_videos": True})
    with pytest.warns(UserWarning, match="skipping a bad video"):
        main(["fit", "--config", write_config(config, tmp_path)])
    metrics = json.loads((Path(config["out"]) / "fit_metrics.json").read_text())
    assert metrics["train/skipped"] == 2  # the last epoch's; each epoch meets both again
    rows = list(csv.DictReader(open(Path(config["out"]) / "metrics.csv")))
    assert [float(r["train/skipped"]) for r in rows if r["train/skipped"]] == [2.0, 2.0]


def test_a_missing_video_read_by_a_worker_is_one_line_naming_it(tiny_config: dict, tmp_path: Path, capsys) -> None:
    config = merged(tiny_config, data={"video_dir": str(tmp_path / "nowhere"), "num_workers": 2})
    line = error_line(capsys, "fit", "--config", write_config(config, tmp_path))
    assert re.fullmatch(rf"actattn fit: error: {re.escape(str(tmp_path))}/nowhere/\d+\.mp4: no such file", line)
    with pytest.raises(VideoDecodeError, match="no such file"):  # --debug: the exception and its traceback
        main(["--debug", "fit", "--config", write_config(merged(config, data={"num_workers": 0}), tmp_path)])


def test_run_folder_mistakes(run, tiny_config: dict, tmp_path: Path, capsys) -> None:
    config, _ = run
    taken = write_config(config, tmp_path, "taken.yaml")
    line = error_line(capsys, "fit", "--config", taken)
    assert line == (f"actattn fit: error: {config['out']} already holds a run ({config['out']}/checkpoints/last.ckpt): "
                    "continue it with --resume, or give another out")
    line = error_line(capsys, "fit", "--config", write_config(tiny_config, tmp_path), "--resume")
    assert line == f"actattn fit: error: cannot resume: {tiny_config['out']}/checkpoints/last.ckpt does not exist"


def test_a_diverging_run_stops_with_its_step(tiny_config: dict, tmp_path: Path, capsys) -> None:
    path = write_config(tiny_config, tmp_path)
    line = error_line(capsys, "fit", "--config", path, "--set", "model.lr=1e30")
    assert re.fullmatch(r"actattn fit: error: non-finite training loss at step \d+: .*", line)


def test_an_empty_checkpoint_given_to_predict(bikes: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.ckpt"
    empty.touch()
    line = error_line(capsys, "predict", str(bikes), "--checkpoint", str(empty), "--out", str(tmp_path))
    assert line == f"actattn predict: error: {empty}: the file is empty (0 bytes); it was never completely written"


def test_the_real_command_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("out: x\ndata: {num_segments: 4.5}\nmodel: {name: average_pooling}\ntrainer: {}\n")
    done = subprocess.run([sys.executable, "-m", "actattn.cli", "fit", "--config", str(path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"actattn fit: error: config {path}: data.num_segments: Expected a int. Got value: 4.5\n"
