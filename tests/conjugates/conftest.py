"""Fixtures of the conjugate tests: a tiny HACS-format segment set over real MP4s whose frame ``i`` is
gray level ``7 i`` (so a decoded frame of the first 36 says its index), and VOC action still images
with painted people."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from actattn.data.video import write_video

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats" / "fixtures"
STEP = 7  # gray levels between consecutive frames
FPS = 4


def write_gray(path: Path, num_frames: int, fps: int = FPS) -> Path:
    """A 24x32 MP4 whose frame ``i`` is uniformly gray ``STEP * i`` (modulo 252)."""
    frames = [np.full((24, 32, 3), STEP * i % 252, np.uint8) for i in range(num_frames)]
    write_video(path, np.stack(frames), fps=fps)
    return path


@pytest.fixture(name="write_gray")
def write_gray_fixture():
    """:func:`write_gray`, for the tests."""
    return write_gray


@pytest.fixture
def hacs(tmp_path: Path) -> Path:
    """``hacs.json`` (HACS Segments layout) and ``videos/``: A (8 s, three segments), B (4 s, one,
    validation), C (missing), D (corrupt), E (testing, no times); 4 frames a second."""
    videos = tmp_path / "videos"
    write_gray(videos / "v_A.mp4", 32)
    write_gray(videos / "v_B.mp4", 16)
    write_gray(videos / "v_E.mp4", 16)
    (videos / "v_D.mp4").write_bytes(b"not a video at all")

    def video(subset: str, duration: float, *segments: tuple[str, float, float]) -> dict:
        return {"subset": subset, "duration": str(duration), "url": "",
                "annotations": [{"label": label, "segment": [start, stop]} for label, start, stop in segments]}

    database = {"A": video("training", 8, ("Archery", 2.0, 3.0), ("Archery", 4.0, 5.0), ("Dodgeball", 6.5, 7.0)),
                "B": video("validation", 4, ("Dodgeball", 1.0, 2.0)),
                "C": video("training", 4, ("Archery", 1.0, 2.0)), "D": video("training", 4, ("Archery", 1.0, 2.0)),
                "E": video("testing", 4)}
    (tmp_path / "hacs.json").write_text(json.dumps({"database": database}))
    return tmp_path


@pytest.fixture
def voc(tmp_path: Path) -> Path:
    """The VOC action fixture's ImageSets and Annotations, and ``JPEGImages/``: a smooth gradient
    (500 x 375, also as ``background.png``) with each annotated person a red box (JPEG without
    chroma subsampling, so that the red does not bleed past the box)."""
    import shutil

    root = tmp_path / "voc"
    shutil.copytree(FIXTURES / "voc_action", root)
    from actattn.data.formats.voc_action import read_voc_persons

    rows = np.linspace(40, 200, 375)[:, None, None]
    cols = np.linspace(0, 40, 500)[None, :, None]
    background = np.broadcast_to(rows + cols, (375, 500, 3)).astype(np.uint8)
    Image.fromarray(background).save(root / "background.png")
    for xml in sorted((root / "Annotations").glob("*.xml")):
        image = background.copy()
        for person in read_voc_persons(xml):
            x1, y1, x2, y2 = (int(v) for v in person.box)
            image[y1 - 1:y2, x1 - 1:x2] = (230, 30, 30)  # VOC's 1-based inclusive corners
        (root / "JPEGImages").mkdir(exist_ok=True)
        Image.fromarray(image).save(root / "JPEGImages" / f"{xml.stem}.jpg", quality=98, subsampling=0)
    return root
