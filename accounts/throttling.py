"""How often one address, or one account, may ask for something."""

from django.core.cache import cache


def client_address(request) -> str:
    """The browser's address. Behind our nginx, uvicorn (--proxy-headers
    --forwarded-allow-ips 127.0.0.1, streamcat/stack.py) has already put into
    REMOTE_ADDR the peer address nginx appended to X-Forwarded-For; that header is
    trusted from our own proxy on loopback only, so a client cannot pick its address by
    sending one. Reading X-Forwarded-For again here would trust it a second time."""
    return request.META.get("REMOTE_ADDR", "")


def allow(key: str, *, limit: int, window: int) -> bool:
    """Count one request under `key`: False once more than `limit` came within `window`
    seconds of the first. Atomic in Redis, so requests at once each get their own count."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # the window ended between add and incr: this request opens a new one
        cache.set(key, 1, timeout=window)
        return True
