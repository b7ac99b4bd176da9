"""SynthHOI's catalog: the presets and the checks of the parameters."""
from __future__ import annotations

import pytest

from actattn.data.synthetic import PRESETS, preset


def test_presets() -> None:
    with pytest.raises(ValueError, match="tiny.*default.*hard"):
        preset("nope")
    assert PRESETS["hard"].num_classes > PRESETS["default"].num_classes == 12
    assert preset("default", size=128).size == 128
    with pytest.raises(ValueError, match="size"):
        preset("tiny", size=65)
    with pytest.raises(ValueError, match="tearable"):
        preset("default", num_objects=2)
