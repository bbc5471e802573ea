"""Which address a request comes from, for the log-in lock-out and the reset limits."""


def client_address(request) -> str:
    """The browser's address. Behind our nginx, uvicorn (--proxy-headers
    --forwarded-allow-ips 127.0.0.1, streamcat/stack.py) has already put into
    REMOTE_ADDR the peer address nginx sets as X-Forwarded-For; that header is
    trusted from our own proxy on loopback only, so a client cannot pick its address by
    sending one. Reading X-Forwarded-For again here would trust it a second time."""
    return request.META.get("REMOTE_ADDR", "")
