"""Lightning DDP launched by torchrun: two CPU processes over gloo."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml


def test_torchrun_two_process_fit(tiny_config: dict, tmp_path: Path) -> None:
    """Training shards the 24 clips; validation sees each of 7 clips once (not 8: no padding)."""
    seven = tmp_path / "seven.json"
    seven.write_text(json.dumps(json.loads(Path(tiny_config["data"]["val_file"]).read_text())[:7]))
    config = tiny_config | {"trainer": {**tiny_config["trainer"], "max_epochs": 1, "devices": 2, "strategy": "ddp"},
                            "data": {**tiny_config["data"], "val_file": str(seven)}}
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
               "-m", "actattn.cli", "fit", "--config", str(path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((Path(config["out"]) / "fit_metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["global_step"] == 2  # 24 clips split over 2 ranks, batch 8: 2 steps each
    assert metrics["val/clips"] == 7
    assert (Path(config["out"]) / "checkpoints" / "last.ckpt").is_file()
