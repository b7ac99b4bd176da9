"""Fixtures of the format-reader tests: the shared annotation excerpts, read in place."""
from __future__ import annotations

from pathlib import Path

import pytest

ANNOTATIONS = Path(__file__).resolve().parents[4] / "shared" / "annotations"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def annotations() -> Path:
    """``../shared/annotations`` (the real excerpts); the test is skipped where it is absent."""
    if not (ANNOTATIONS / "README.md").is_file():
        pytest.skip(f"the shared annotation excerpts are not at {ANNOTATIONS}")
    return ANNOTATIONS


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The small hand-written files (in the documented formats) of the sets with no shareable excerpt."""
    return FIXTURES
