"""Read a roster collection a few batches ahead on a worker thread while the pull writes the previous batch.

Fetching and parsing pages (the SIS, the network, JSON) and writing batches (the database) each wait on a
different system; overlapping them makes a pull take about as long as the slower of the two instead of
their sum. Only the worker touches the source while a collection streams, and only the caller touches
the database. An error on the worker (a `ConnectorError` mid-pull) is raised in the caller, where the
pull's SAVEPOINT rolls everything back.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Generic, TypeVar, cast

from lti_tool.sis.upsert import CHUNK, chunked

R = TypeVar("R")
#: Batches read ahead: enough to keep the worker busy while one is written, little enough to bound memory.
DEPTH: Final = 2
_POLL_SECONDS: Final = 0.05
_JOIN_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_END: Final = object()


class ReadAhead(Generic[R]):
    """`with ReadAhead(records) as batches:` yields lists of up to `size` records, read on a worker thread."""

    def __init__(self, records: Iterable[R], *, size: int = CHUNK, depth: int = DEPTH) -> None:
        self._records = records
        self._size = size
        self._queue: queue.Queue[list[R] | _Failed | object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._produce, name="roster-read-ahead", daemon=True)

    def __enter__(self) -> Iterator[list[R]]:
        self._worker.start()
        return self._batches()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        # A worker still reading finishes its page (bounded by the transport's timeout) and then stops;
        # a daemon thread, it never outlives the process if the page takes longer than this.
        deadline = time.monotonic() + _JOIN_SECONDS
        while self._worker.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.get(timeout=_POLL_SECONDS)  # unblock a worker waiting to hand over a batch
            except queue.Empty:
                self._worker.join(timeout=_POLL_SECONDS)

    def _batches(self) -> Iterator[list[R]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(list[R], item)

    def _produce(self) -> None:
        try:
            for batch in chunked(self._records, self._size):
                if not self._hand_over(batch):
                    return
            self._hand_over(_END)
        except BaseException as error:  # noqa: BLE001 - not swallowed: handed to the caller, which raises it
            self._hand_over(_Failed(error))

    def _hand_over(self, item: list[R] | _Failed | object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
