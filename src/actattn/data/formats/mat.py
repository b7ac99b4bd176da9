"""Reading MATLAB ``.mat`` annotation files (MPII Human Pose, HICO) the same way everywhere:
``scipy.io.loadmat(squeeze_me=True, struct_as_record=False)``, so that structs have attributes
and 1x1 arrays are scalars; :func:`items` turns a struct array or a scalar back into a list."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def load_mat(path: str | Path, *names: str) -> dict:
    """The variables ``names`` of a ``.mat`` file; a missing one is an error naming the file."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        data = loadmat(path, squeeze_me=True, struct_as_record=False)
    except (MatReadError, ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable .mat file ({err})") from None
    missing = [name for name in names if name not in data]
    if missing:
        raise ValueError(f"{path}: no variable {missing[0]!r} (has {sorted(k for k in data if not k.startswith('__'))})")
    return {name: data[name] for name in names}


def items(value: object) -> list:
    """A struct array, cell array or squeezed scalar as a list of its elements."""
    if isinstance(value, np.ndarray):
        return list(value.ravel(order="F")) if value.ndim > 1 else list(value)
    return [value]


def text(value: object) -> str | None:
    """A MATLAB char field as a string; ``None`` for an empty one (``[]``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.size == 0:
        return None
    if isinstance(value, np.ndarray) and value.size == 1:
        return text(value.item())
    raise ValueError(f"expected a string, got {value!r}")


def number(value: object) -> float | None:
    """A MATLAB numeric field as a float; ``None`` for an empty one."""
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return None
        if value.size == 1:
            return float(value.item())
        raise ValueError(f"expected one number, got an array of shape {value.shape}")
    if isinstance(value, (int, float, np.number)):
        return float(value)
    raise ValueError(f"expected a number, got {value!r}")
