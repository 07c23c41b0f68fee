"""Which round of a trajectory is its headline answer: last, the model's own pick, or the oracle's best."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from svgarena.agents._trajectory import Attempt

SELECTIONS = ("last", "best-model", "best-oracle")
_LOWER_IS_BETTER = frozenset({"lpips", "fid", "fid_c", "fvd", "mse"})


def select_round(attempts: Sequence[Attempt], per_round: Mapping[int, Mapping[str, Any]], selection: str) -> int:
    """The selected round number.

    best-model: the last round the model marked as its answer (done marker / submit), else the last.
    best-oracle: the round with the best SSIM (or the task's first metric); it peeks at the reference,
    so it is labelled oracle wherever it is reported. Ties go to the earlier round.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; use {', '.join(SELECTIONS)}")
    last = attempts[-1].round
    if selection == "last":
        return last
    if selection == "best-model":
        chosen = [a.round for a in attempts if a.model_chose]
        return chosen[-1] if chosen else last
    metric = _oracle_metric(per_round)
    if metric is None:
        return last
    sign = -1.0 if metric.lower() in _LOWER_IS_BETTER else 1.0
    best, best_value = last, None
    for a in attempts:
        score = per_round.get(a.round, {}).get(metric)
        value = getattr(score, "value", None)
        if value is None or not getattr(score, "ok", True):
            value = float("-inf")
        else:
            value = sign * float(value)
        if best_value is None or value > best_value:
            best, best_value = a.round, value
    return best


def _oracle_metric(per_round: Mapping[int, Mapping[str, Any]]) -> str | None:
    for scores in per_round.values():
        if not scores:
            continue
        names = list(scores)
        for preferred in ("ssim", "ssim_video"):
            if preferred in names:
                return preferred
        return names[0]
    return None
