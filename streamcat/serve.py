"""One ASGI server process (`python -m streamcat.serve <module:app>`), on a listening
socket it is handed: by supervisord as descriptor 0, or by a systemd socket unit as
descriptor 3 (LISTEN_FDS, streamcat/systemd.py).

supervisord or systemd owns the socket and runs several of these on it (the site's
app, the playback-auth server): when one dies the others keep accepting, so a crash
refuses no connection.
"""

import os
import socket
import sys

import uvicorn

SYSTEMD_FIRST_FD = 3  # sd_listen_fds(3): passed sockets start here


def listening_socket() -> socket.socket:
    """systemd's socket when it passed one to this very process (LISTEN_PID), else
    supervisord's on descriptor 0. Family and type are read from the descriptor."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()):
        count = os.environ.get("LISTEN_FDS")
        # Not for the children (uvicorn's, ffmpeg): the descriptor is not theirs.
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
        if count != "1":
            raise SystemExit(f"streamcat.serve takes one listening socket; systemd passed LISTEN_FDS={count!r}")
        return socket.socket(fileno=SYSTEMD_FIRST_FD)
    return socket.socket(fileno=0)


def main(application: str) -> None:
    listening = listening_socket()
    config = uvicorn.Config(
        application,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        access_log=False,
        # Compressing every chat frame once per socket costs more CPU than the
        # fan-out itself (bench.chat_fanout); frames are small anyway.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run(sockets=[listening])


if __name__ == "__main__":
    main(sys.argv[1])
