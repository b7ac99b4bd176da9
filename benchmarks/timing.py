"""Shared timing for the benchmarks: interleaved wall-clock repeats of named steps."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_ms(steps: dict[str, Callable[[], None]], warmup: int, repeats: int) -> dict[str, list[float]]:
    """Wall times in milliseconds of each step, after ``warmup`` untimed calls each.

    The steps take turns within each repeat, so a slow spell of a shared machine hits all of them.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def ratio_rows(times: dict[str, list[float]], params: dict[str, int], base: str) -> list[str]:
    """Per step: median ms, fastest ms (a guide on a busy machine), ratio to ``base``, parameters and their ratio."""
    base_ms = statistics.median(times[base])
    rows = []
    for name, runs in times.items():
        ms = statistics.median(runs)
        rows.append(f"{ms:>10.1f} {min(runs):>8.1f} {ms / base_ms:>7.2f} {params[name]:>11,} "
                    f"{params[name] / params[base]:>7.2f}")
    return rows
