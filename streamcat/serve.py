"""One ASGI server process (`python -m streamcat.serve <module:app>`), on the
listening socket supervisord hands it as descriptor 0.

supervisord owns the socket (an fcgi-program) and runs several of these on it (the
site's app, the playback-auth server): when one dies the others keep accepting, so a
crash refuses no connection.
"""

import socket
import sys

import uvicorn


def main(application: str) -> None:
    listening = socket.socket(fileno=0)  # family and type are read from the descriptor
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
