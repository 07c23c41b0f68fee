"""Shards: the samples of a run whose (task, sample id) hashes to shard K of N.

The hash is ``sha256("<task>\\0<sample id>")`` (UTF-8), its first 8 bytes read as a big-endian
integer, modulo N; shard K (1-based, ``1/N`` .. ``N/N``) keeps the samples whose value is K-1.
It depends only on the task and the sample id, never on Python's ``hash()`` (salted per process),
the sample's position or the machine, so N shard runs on N machines cover the suite exactly once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard ``k`` (1-based) of ``n``."""

    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    def holds(self, task: str, sample_id: str) -> bool:
        return shard_index(task, sample_id, self.n) == self.k - 1

    def describe(self) -> dict[str, object]:
        """What the run's metadata records about its shard."""
        return {"k": self.k, "n": self.n, "spec": str(self), "hash": "sha256(task \\0 sample id)[:8] mod n, 1-based"}


def parse_shard(text: str) -> Shard:
    """``"K/N"`` with 1 <= K <= N; a ValueError with one sentence otherwise."""
    m = _SHARD.match(str(text))
    if not m:
        raise ValueError(f"--shard {text!r} is not K/N (e.g. 1/4: the first of four shards, 1-based)")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard {text}: K must be between 1 and N (shards are numbered 1/{max(n, 1)} .. "
                         f"{max(n, 1)}/{max(n, 1)})")
    return Shard(k, n)


def shard_index(task: str, sample_id: str, n: int) -> int:
    """The 0-based shard of one sample among ``n``."""
    digest = hashlib.sha256(f"{task}\0{sample_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n


def keep_shard(task: str, samples: Iterable[T], shard: Shard | None, id_of=lambda s: s.id) -> list[T]:
    """The samples of ``task`` that fall in ``shard`` (all of them when ``shard`` is None), in order."""
    if shard is None:
        return list(samples)
    return [s for s in samples if shard.holds(task, str(id_of(s)))]
