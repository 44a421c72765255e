"""Splits that never move, checked: compare each row's split with the published one."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ml_data_platform.core.quality import WARN, Outcome


def _labelled(ids: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All ids sorted, with the index of the split each is in."""
    names = list(ids)
    values = np.concatenate([np.asarray(ids[n], dtype=np.int64) for n in names])
    labels = np.concatenate([np.full(len(ids[n]), i) for i, n in enumerate(names)])
    order = np.argsort(values, kind="stable")
    return values[order], labels[order]


def moved_rows(current: Mapping[str, np.ndarray], previous: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Rows in both whose split differs, counted per move (e.g. `test->train`)."""
    names = list(previous)
    old_ids, old_split = _labelled(previous)
    new_ids, new_split = _labelled({n: current.get(n, np.array([], dtype=np.int64)) for n in names})
    at = np.searchsorted(old_ids, new_ids)
    found = at < len(old_ids)
    found[found] = old_ids[at[found]] == new_ids[found]
    changed = found.copy()
    changed[found] = old_split[at[found]] != new_split[found]
    moves: dict[str, int] = {}
    for before, after in zip(old_split[at[changed]], new_split[changed], strict=True):
        key = f"{names[before]}->{names[after]}"
        moves[key] = moves.get(key, 0) + 1
    return moves


def check_split_stability(
    current: Mapping[str, np.ndarray],
    previous: Mapping[str, np.ndarray] | None,
    definition: Mapping,
    previous_definition: Mapping | None,
    hashed: bool,
) -> Outcome:
    """ERROR when a row that was published in one split is now in another while the split's
    definition (method, seed, ratios) is unchanged and rows are hash-split; a changed
    definition, or exact splits (which re-deal rows by design), only report it."""
    if previous is None:
        return Outcome(True, "no published splits to compare with", severity=WARN)
    kept = sum(len(ids) for ids in previous.values())
    return stability_outcome(moved_rows(current, previous), kept, definition, previous_definition, hashed)


def stability_outcome(
    moves: Mapping[str, int],
    kept: int,
    definition: Mapping,
    previous_definition: Mapping | None,
    hashed: bool,
) -> Outcome:
    """From the published rows that changed split (per move) and the rows published."""
    moves = dict(moves)
    moved = sum(moves.values())
    observed = {"moved_rows": moved, "moves": moves, "published_rows": kept}
    threshold = {"moved_rows": 0, "definition": dict(definition)}
    if not moved:
        return Outcome(
            True, "no published row changed split", observed, threshold, metric="moved_rows", value=0, limit=0
        )
    if previous_definition is not None and dict(previous_definition) != dict(definition):
        summary = (
            f"{moved} row(s) changed split because the split definition changed "
            f"({dict(previous_definition)} -> {dict(definition)}): on purpose, not drift"
        )
        return Outcome(False, summary, observed, threshold, WARN, metric="moved_rows", value=moved, limit=0)
    if not hashed:
        summary = (
            f"{moved} published row(s) changed split ({moves}): exact splits re-deal rows when "
            "the rows change; set split.method: hash (with an id_column) for splits that never move"
        )
        return Outcome(False, summary, observed, threshold, WARN, metric="moved_rows", value=moved, limit=0)
    return Outcome(
        False,
        f"{moved} published row(s) changed split ({moves}) with the same method, seed and ratios: "
        "a model trained on the new train split would have seen earlier test rows",
        observed,
        threshold,
        metric="moved_rows",
        value=moved,
        limit=0,
    )
