"""Counting requests in fixed windows, in the cache (Redis), shared by every process."""

from django.core.cache import cache


def allow(key: str, *, limit: int, window: int) -> bool:
    """Count one request under `key`: False once more than `limit` came within `window`
    seconds of the first. Atomic in Redis, so requests at once each get their own count."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # the window ended between add and incr: this request opens a new one
        cache.set(key, 1, timeout=window)
        return True
