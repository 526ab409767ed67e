"""The batch engine's bookkeeping: the deduplicated input (``Plan``) and the running counts
of input occurrences (``Counts``), kept compact so a million IDs fit in well under 250 MB."""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from .models import BatchProgress

__all__ = ["Counts", "Plan"]

K = TypeVar("K", bound=Hashable)


class Plan(Generic[K]):
    """The deduplicated input, kept compact (a million IDs must fit in well under 250 MB).

    ``unique``: first occurrences in input order; chunk ``i`` is ``unique[i*size:(i+1)*size]``.
    Repeats (usually few): their input positions and keys, and per chunk (of the first
    occurrence) their keys in input order. No object is made per occurrence.
    """

    def __init__(self, keys: Iterable[K], chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.unique: list[K] = []
        self.repeat_positions = array("q")
        self.repeat_keys: list[K] = []
        self.repeats: dict[int, list[K]] = {}  # chunk index -> repeats of its keys
        self.total = self._scan(keys)
        self.chunk_count = -(-len(self.unique) // chunk_size)

    def _scan(self, keys: Iterable[K]) -> int:
        if isinstance(keys, list) and len(set(keys)) == len(keys):
            self.unique = list(keys)  # no repeats (usual): a set test is cheaper than a dict
            return len(keys)
        first_chunk: dict[K, int] = {}  # key -> chunk of its first occurrence; freed on return
        chunk, fill, total = 0, 0, 0
        for position, key in enumerate(keys):
            total = position + 1
            known = len(first_chunk)
            seen_in = first_chunk.setdefault(key, chunk)
            if len(first_chunk) != known:
                self.unique.append(key)
                fill += 1
                if fill == self.chunk_size:
                    chunk, fill = chunk + 1, 0  # one int object shared by a whole chunk
            else:
                self.repeat_positions.append(position)
                self.repeat_keys.append(key)
                self.repeats.setdefault(seen_in, []).append(key)
        return total

    def chunk(self, index: int) -> list[K]:
        start = index * self.chunk_size
        return self.unique[start : start + self.chunk_size]

    def repeats_of(self, index: int) -> list[K]:
        """Later occurrences of the keys of chunk ``index``, in input order."""
        return self.repeats.get(index, [])


class Counts:
    """Running counts of input occurrences, as ``BatchProgress`` reports them."""

    __slots__ = ("deleted", "done", "failed", "unprocessed")

    def __init__(self) -> None:
        self.done = self.deleted = self.failed = self.unprocessed = 0

    def add(self, size: int, deleted: int, failed: int, repeats: int) -> None:
        self.done += size + repeats
        self.deleted += deleted
        self.failed += failed + repeats
        self.unprocessed += size - deleted - failed

    def progress(self, total: int) -> BatchProgress:
        return BatchProgress(self.done, total, self.deleted, self.failed, self.unprocessed)
