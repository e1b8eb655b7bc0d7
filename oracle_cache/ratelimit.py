"""Client-side pacing: a token bucket (requests per second) and a cap on requests in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class RateLimiter:
    """Token bucket; `rate` <= 0 disables it. Blocks the calling thread until a token is free."""

    def __init__(self, rate: float = 0.0, burst: int | None = None, max_in_flight: int = 0) -> None:
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(1.0, self.rate))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_in_flight) if max_in_flight > 0 else None

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            time.sleep(wait)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One request: wait for a token, then hold an in-flight slot while it runs."""
        self.acquire()
        if self._slots is None:
            yield
            return
        with self._slots:
            yield
