"""actattn.checkpoint: atomic, checksummed checkpoints; last.ckpt the latest state; exact resume of a
killed `actattn fit` with data-loader workers."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from actattn.checkpoint import CheckpointError, load_module, read_checkpoint, weights_digest
from actattn.experiment import fit, merged
from actattn.files import atomic_write, partial_path, remove_partials


def test_digest_sees_every_byte_name_and_shape() -> None:
    weights = {"a": torch.arange(6.0), "b": torch.ones(2, 3, dtype=torch.bfloat16)}
    digest = weights_digest(weights)
    assert digest == weights_digest({"b": weights["b"].clone(), "a": weights["a"].clone()})  # order-free
    flipped = weights["a"].clone()
    flipped.view(torch.uint8)[5] ^= 1
    assert weights_digest({**weights, "a": flipped}) != digest
    assert weights_digest({**weights, "a": weights["a"].view(2, 3)}) != digest
    assert weights_digest({"c": weights["a"], "b": weights["b"]}) != digest


def test_atomic_write_keeps_the_old_file_until_the_new_one_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    atomic_write(path, lambda file: file.write(b"old"))

    def fail(file) -> None:
        file.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, fail)
    assert path.read_bytes() == b"old" and not partial_path(path).exists()


def test_a_write_killed_midway_leaves_the_old_file_and_a_partial_that_the_next_save_removes(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"previous state")
    writer = ("import sys, time; from actattn.files import atomic_write\n"
              "def slow(f):\n    f.write(b'x' * 65536); f.flush(); print('writing', flush=True); time.sleep(60)\n"
              f"atomic_write({str(path)!r}, slow)\n")
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert path.read_bytes() == b"previous state"
    assert [p.name for p in remove_partials(path)] == [f".last.ckpt.{process.pid}.partial"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_fit_keeps_last_ckpt_the_latest_state_every_epoch_without_validation(tiny_config: dict) -> None:
    """Validation only every 3 epochs: last.ckpt still follows every epoch, best.ckpt the monitor."""
    config = merged(tiny_config, trainer={"max_epochs": 2, "check_val_every_n_epoch": 3})
    module, _, _ = fit(config)
    folder = Path(config["out"]) / "checkpoints"
    last = read_checkpoint(folder / "last.ckpt")
    assert (last["epoch"], last["global_step"]) == (1, 6)
    assert not (folder / "best.ckpt").exists()  # nothing validated yet
    for name, value in module.state_dict().items():
        torch.testing.assert_close(last["state_dict"][name], value, rtol=0, atol=0)


def test_steps_checkpoints_and_the_pipeline_travel_with_the_weights(tiny_config: dict, monkeypatch) -> None:
    config = merged(tiny_config, trainer={"max_epochs": 1}) | {"checkpoint_every_n_steps": 2}
    saved, save = [], torch.save
    monkeypatch.setattr(torch, "save", lambda obj, file: (saved.append(obj["global_step"]), save(obj, file)))
    fit(config)
    assert saved == [2, 3, 3]  # step 2; the epoch's end (step 3) as best.ckpt, then as last.ckpt
    module = load_module(Path(config["out"]) / "checkpoints" / "last.ckpt")
    assert module.hparams.pipeline == {"size": 48, "short_side": 55, "num_segments": 2, "clip_stride": None,
                                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert len(module.hparams.class_names) == 6 and not module.training


def _largest_tensor_middle(path: Path, data: bytes) -> int:
    """The file offset of the middle of the largest tensor stored in the torch.save zip at ``path``."""
    with zipfile.ZipFile(path) as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    header = entry.header_offset  # a zip local header: 30 bytes, then the name and the extra field
    name_length, extra_length = (int.from_bytes(data[header + k: header + k + 2], "little") for k in (26, 28))
    return header + 30 + name_length + extra_length + entry.file_size // 2


def _damaged(path: Path, kind: str) -> Path:
    """A copy of the checkpoint ``path``: empty, cut at 64 KiB, or with 400 bytes flipped in its largest tensor."""
    data = bytearray(path.read_bytes())
    if kind == "empty":
        data = bytearray()
    elif kind == "truncated":
        data = data[:65536]
    else:
        middle = _largest_tensor_middle(path, data)
        data[middle: middle + 400] = bytes(b ^ 0xFF for b in data[middle: middle + 400])
    damaged = path.with_name(f"{kind}.ckpt")
    damaged.write_bytes(bytes(data))
    return damaged


@pytest.mark.parametrize(("kind", "message"), [
    ("empty", "the file is empty (0 bytes)"),
    ("truncated", "not a readable checkpoint (65536 bytes; truncated or damaged?)"),
    ("flipped", "the weights do not match their checksum; the file is damaged"),
])
def test_a_damaged_checkpoint_names_the_file_and_the_damage(tiny_config: dict, kind: str, message: str) -> None:
    fit(merged(tiny_config, trainer={"max_epochs": 1}))
    damaged = _damaged(Path(tiny_config["out"]) / "checkpoints" / "last.ckpt", kind)
    with pytest.raises(CheckpointError, match=re.escape(f"{damaged}: {message}")):
        load_module(damaged)
    damaged.replace(damaged.with_name("last.ckpt"))
    with pytest.raises(CheckpointError, match="last.ckpt"):  # --resume reads it through the same check
        fit(merged(tiny_config, trainer={"max_epochs": 2}), resume=True)


def _fit_process(config: dict, path: Path, resume: bool = False) -> subprocess.Popen:
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "actattn.cli", "fit", "--config", str(path), *(["--resume"] if resume else [])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]


def _kill_after_writes(process: subprocess.Popen, last: Path, writes: int, delay: float) -> tuple[int, int]:
    """SIGKILL the whole process group (trainer and loader workers) ``delay`` s after ``last``'s
    ``writes``-th version appeared; the (epoch, step) that ``last`` then holds."""
    versions, stamp = 0, None
    while versions < writes:
        assert process.poll() is None, "the run ended before it could be killed"
        if last.exists() and last.stat().st_mtime_ns != stamp:
            stamp, versions = last.stat().st_mtime_ns, versions + 1
        time.sleep(0.002)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    state = read_checkpoint(last)
    return state["epoch"], state["global_step"]


@pytest.mark.slow
def test_a_killed_fit_with_workers_resumes_to_the_uninterrupted_run(tiny_config: dict, tmp_path: Path) -> None:
    """`actattn fit` with two loader workers, last.ckpt every step, validation every 2nd epoch and a
    cosine schedule over steps, killed with SIGKILL mid-epoch and just after an epoch ended, then
    `fit --resume`: weights, optimiser, schedule and metrics.csv equal the uninterrupted run's."""
    config = merged(tiny_config, data={"num_workers": 2, "batch_size": 4},
                    model={"schedule": "cosine", "interval": "step"},
                    trainer={"max_epochs": 3, "check_val_every_n_epoch": 2}) | {"checkpoint_every_n_steps": 1}
    straight = config | {"out": str(tmp_path / "straight")}
    _finish(_fit_process(straight, tmp_path / "straight.yaml"))
    reference = read_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    reference_rows = (tmp_path / "straight" / "metrics.csv").read_text()
    for writes, delay in ((3, 0.0), (7, 0.05)):  # mid-epoch 0; around the first step of epoch 1
        run = config | {"out": str(tmp_path / f"killed{writes}")}
        path = tmp_path / f"killed{writes}.yaml"
        killed_at = _kill_after_writes(_fit_process(run, path), Path(run["out"]) / "checkpoints" / "last.ckpt",
                                       writes, delay)
        assert killed_at[1] < reference["global_step"]
        _finish(_fit_process(run, path, resume=True))
        resumed = read_checkpoint(Path(run["out"]) / "checkpoints" / "last.ckpt")
        for key in ("epoch", "global_step", "lr_schedulers"):
            assert resumed[key] == reference[key], (key, killed_at)
        for name, value in reference["state_dict"].items():
            torch.testing.assert_close(resumed["state_dict"][name], value, rtol=0, atol=0, msg=f"{name} {killed_at}")
        for (_, a), (_, b) in zip(sorted(reference["optimizer_states"][0]["state"].items()),
                                  sorted(resumed["optimizer_states"][0]["state"].items())):
            torch.testing.assert_close(a["momentum_buffer"], b["momentum_buffer"], rtol=0, atol=0)
        assert (Path(run["out"]) / "metrics.csv").read_text() == reference_rows, killed_at
