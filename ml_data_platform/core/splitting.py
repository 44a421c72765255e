"""Deterministic, stratified, disjoint train/val/test splits keyed by `sample_index`."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd


class SplitError(ValueError):
    """The rows cannot be split as declared."""


def allocate(count: int, ratios: Mapping[str, float]) -> dict[str, int]:
    """Split `count` rows by `ratios` so each share is within one row of count × ratio.

    Largest-remainder rounding: floors first, then the leftover rows go to the largest
    fractional parts (ties broken by split order, so the result is deterministic).
    """
    exact = {name: count * ratio for name, ratio in ratios.items()}
    sizes = {name: math.floor(value) for name, value in exact.items()}
    leftover = count - sum(sizes.values())
    by_remainder = sorted(ratios, key=lambda n: (-(exact[n] - sizes[n]), list(ratios).index(n)))
    for name in by_remainder[:leftover]:
        sizes[name] += 1
    return sizes


def allocate_per_class(
    class_counts: Mapping[int, int], ratios: Mapping[str, float]
) -> dict[int, dict[str, int]]:
    """Per-class split sizes within one row of count × ratio whose totals are `allocate(n)`.

    Controlled rounding: every cell starts at its floor; the leftover rows of each class go
    to the splits with the most room left against the global sizes (Gale–Ryser order, ties to
    the larger fractional part). Falls back to independent per-class rounding in the rare
    case that greedy order cannot meet the global sizes.
    """
    names = list(ratios)
    total = allocate(sum(class_counts.values()), ratios)
    floors = {c: {n: math.floor(k * ratios[n]) for n in names} for c, k in class_counts.items()}
    room = {n: total[n] - sum(floors[c][n] for c in class_counts) for n in names}
    leftovers = {c: k - sum(floors[c].values()) for c, k in class_counts.items()}
    result = {c: dict(cells) for c, cells in floors.items()}
    for cls in sorted(class_counts, key=lambda c: (-leftovers[c], c)):
        fraction = {n: class_counts[cls] * ratios[n] - floors[cls][n] for n in names}
        ranked = sorted(names, key=lambda n: (-room[n], -fraction[n], names.index(n)))
        chosen = [n for n in ranked[: leftovers[cls]] if room[n] > 0]
        if len(chosen) < leftovers[cls]:
            return {c: allocate(k, ratios) for c, k in class_counts.items()}
        for name in chosen:
            result[cls][name] += 1
            room[name] -= 1
    return result


def min_rows_per_class(ratios: Mapping[str, float]) -> int:
    """Fewest rows a class needs so that every split is expected to get at least one."""
    return math.ceil(1 / min(ratios.values()) - 1e-9)


def stratified_split(
    table: pd.DataFrame, target: str, ratios: Mapping[str, float], seed: int
) -> dict[str, pd.DataFrame]:
    """Shuffle each class with `seed` and cut it by `ratios`; each split sorted by sample_index."""
    labels = table[target].to_numpy()
    classes, counts = np.unique(labels, return_counts=True)
    needed = min_rows_per_class(ratios)
    short = {int(c): int(n) for c, n in zip(classes, counts, strict=True) if n < needed}
    if short:
        raise SplitError(
            f"class(es) with too few rows to stratify: {short} (rows per class); every class needs "
            f">= {needed} rows for split ratios {dict(ratios)}. Add rows or drop those classes"
        )
    rng = np.random.default_rng(seed)
    positions: dict[str, list[np.ndarray]] = {name: [] for name in ratios}
    sizes = allocate_per_class(dict(zip(classes.tolist(), counts.tolist(), strict=True)), ratios)
    for cls in classes:
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        start = 0
        for name, size in sizes[int(cls)].items():
            positions[name].append(members[start : start + size])
            start += size
    splits = {}
    for name, parts in positions.items():
        rows = np.sort(np.concatenate(parts))
        part = table.iloc[rows]  # one copy; reset_index would make a second
        part.index = pd.RangeIndex(len(part))
        splits[name] = part
    return splits


# Splits that never move: each row's split is a keyed hash of its identity and the seed,
# compared with the cumulative ratios. Nothing else about the table enters, so a row keeps
# its split as rows are added, in any processing order, on any engine that can compute it.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer (uint64 in, uint64 out, wrapping): every input bit reaches
    every output bit, so consecutive ids land anywhere in [0, 1)."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def hash_unit(ids: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per id: SplitMix64 of (id + mix(seed) × golden ratio), top
    53 bits. Same id and seed, same number, anywhere."""
    key = _mix64(np.array([seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        mixed = _mix64(ids.astype(np.int64).view(np.uint64) + key * _GOLDEN)
    return (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def hash_assignment(ids: np.ndarray, ratios: Mapping[str, float], seed: int) -> np.ndarray:
    """The index (into `ratios`' order) of each id's split: the split whose cumulative ratio
    interval holds its hash."""
    edges = np.cumsum(list(ratios.values()))[:-1]
    return np.searchsorted(edges, hash_unit(ids, seed), side="right")


def hash_split(table: pd.DataFrame, ratios: Mapping[str, float], seed: int) -> dict[str, pd.DataFrame]:
    """Split by `hash_assignment` of `sample_index`; each split sorted by sample_index. Class
    shares are not forced: each class's count in a split is binomial around count × ratio
    (see `hash_tolerance`), the price of a split no later row can move."""
    ids = table["sample_index"].to_numpy()
    assignment = hash_assignment(ids, ratios, seed)
    order = np.argsort(ids, kind="stable")
    splits = {}
    for position, name in enumerate(ratios):
        rows = order[assignment[order] == position]
        part = table.iloc[rows]
        part.index = pd.RangeIndex(len(part))
        splits[name] = part
    return splits


HASH_SIGMAS = 5.0  # a class's count in a split stays within this many binomial std deviations


def hash_tolerance(count: int, ratio: float) -> float:
    """How far (in rows) a class of `count` rows may land from count × ratio in one split
    under hash splitting: max(1, 5σ) with σ = √(count·ratio·(1 − ratio)). A correct hash
    exceeds it with probability below 1e-6 per class and split."""
    return max(1.0, HASH_SIGMAS * math.sqrt(count * ratio * (1 - ratio)))
