"""Run an iterator ahead in a background thread, at most `depth` items ahead.

The thread is a daemon and checks a stop flag between items and while it waits for room, so
`close()` ends it promptly and the interpreter never hangs at exit on a loader that was left
mid-epoch. An exception in the producer is re-raised in the consumer, at the item where it
happened."""
from __future__ import annotations

import atexit
import queue
import threading
import weakref

_ITEM, _END, _ERROR = "item", "end", "error"
_POLL_S = 0.05  # how often a blocked producer or consumer looks at the stop flag
_live: "weakref.WeakSet[Prefetcher]" = weakref.WeakSet()


class Prefetcher:
    def __init__(self, iterator, depth: int, name: str = "spmd-data-prefetch"):
        if depth < 1:
            raise ValueError(f"prefetch depth must be at least 1, got {depth}")
        self._iterator = iterator
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        _live.add(self)
        self._thread.start()

    def _produce(self):
        try:
            for item in self._iterator:
                if not self._put((_ITEM, item)):
                    return
            self._put((_END, None))
        except BaseException as e:  # handed to the consumer, raised there
            self._put((_ERROR, e))

    def _put(self, message) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        while not self._done:
            try:
                kind, value = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._done = True  # stopped by close() (or killed): nothing more will come
                continue
            if kind == _ITEM:
                return value
            self._done = True
            if kind == _ERROR:
                raise value
        raise StopIteration

    def close(self, timeout: float = 5.0):
        """Stop the producer, drop what it prefetched and wait for its thread to end."""
        self._stop.set()
        self._done = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        _live.discard(self)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


@atexit.register
def _close_all():
    for p in list(_live):
        p.close(timeout=1.0)
