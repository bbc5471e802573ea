"""Driver for nginx with the RTMP module: configuration, statistics, control.

nginx-rtmp exposes its live state as XML (`rtmp_stat`) and lets a loopback
client drop a publisher (`rtmp_control`); both listen on a control port that is
bound to 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"  # TLS in front of RTMP (RTMPS)
INGEST_APP = "app"  # the application OBS publishes to, named as on IVS
HLS_APP = "live"
BANDWIDTH_WINDOW_MS = 10_500  # the relay target that writes HLS; publishing here is loopback-only


class NginxUnavailable(Exception):
    pass


class NginxDown(NginxUnavailable):
    """Nothing listens on the control port: nginx is not running, so nothing is published."""


@dataclass(frozen=True)
class StreamStats:
    app: str
    name: str
    bw_video: float | None  # bits per second over nginx-rtmp's 10 s window; None until measured
    bw_audio: float | None
    video: dict
    audio: dict
    publisher_id: str | None = None  # the publishing client's id; None while nobody publishes


@dataclass(frozen=True)
class Instance:
    """One run of nginx: its client ids and streams mean something only within it."""

    pid: int
    started_at: dt.datetime  # from nginx's uptime, which counts whole seconds

    def is_(self, *, pid: int | None, started_at: dt.datetime | None) -> bool:
        return (
            pid == self.pid
            and started_at is not None
            and abs((started_at - self.started_at).total_seconds()) <= 2  # the uptime's rounding, twice
        )


@dataclass(frozen=True)
class State:
    instance: Instance
    streams: list[StreamStats]


def rtmp_servers() -> list[dict]:
    """nginx-rtmp's servers in configuration order (rtmp_control addresses them by
    index): the public one, plain RTMP; the loopback one, whatever arrived secure."""
    return [
        {"listen": f"{settings.LISTEN_ADDRESS}:{settings.RTMP_PORT}", "secure": False},
        {"listen": f"127.0.0.1:{settings.RTMP_INTERNAL_PORT}", "secure": True},
    ]


def http_servers() -> list[dict]:
    """nginx's HTTP servers: plain HTTP alone, or with TLS on, HTTPS serving the site,
    plain HTTP redirecting there, and plain HTTP still serving what arrives on 127.0.0.1
    (the site's own calls to its plane). nginx picks a server by the address a
    connection arrived on before the Host header, so no remote client reaches the plain
    site by claiming `Host: localhost`; the names only matter when the public address is
    loopback too (tests)."""
    plain = f"{settings.LISTEN_ADDRESS}:{settings.HTTP_PORT}"
    if settings.TLS == "off":
        return [{"listen": [plain]}]
    return [
        {"listen": [f"{plain} default_server"], "redirect": True},
        {"listen": [f"127.0.0.1:{settings.HTTP_PORT}"], "names": "localhost 127.0.0.1"},
        {"listen": [f"{settings.LISTEN_ADDRESS}:{settings.HTTPS_PORT} ssl http2"], "tls": True},
    ]


def render_config(
    *,
    var_dir: Path,
    static_root: Path,
    callback_url: str,
    callback_secret: str,
    tls_cert: Path,
    tls_key: Path,
    acme_webroot: Path,
    local_ca: Path | None = None,
) -> str:
    template = (settings.BASE_DIR / "deploy" / "nginx.conf.template").read_text()
    context = {
        "rtmp_module": RTMP_MODULE,
        "stream_module": STREAM_MODULE,
        "rtmp_servers": rtmp_servers(),
        "rtmps_port": settings.RTMPS_PORT,
        "rtmp_internal_port": settings.RTMP_INTERNAL_PORT,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "var_dir": var_dir,
        "listen": settings.LISTEN_ADDRESS,
        "http_servers": http_servers(),
        "public_url": settings.PUBLIC_URL.rstrip("/"),
        "acme_webroot": acme_webroot,
        "local_ca": local_ca or "",
        "app_port": settings.APP_PORT,
        "playback_auth_port": settings.PLAYBACK_AUTH_PORT,
        "control_port": settings.NGINX_CONTROL_PORT,
        "static_root": static_root,
        "hls_fragment": settings.HLS_FRAGMENT_SECONDS,
        "callback_url": callback_url,
        "callback_secret": callback_secret,
        "ingest_app": INGEST_APP,
        "hls_app": HLS_APP,
    }
    return Engine(autoescape=False).from_string(template).render(Context(context))


def _control_url(path: str, **query) -> str:
    return f"http://127.0.0.1:{settings.NGINX_CONTROL_PORT}{path}?{urllib.parse.urlencode(query)}"


def fetch_state() -> State:
    """Which nginx runs, and every stream it carries now with its measured bitrates and
    metadata. Raises NginxDown when nginx is not running, NginxUnavailable when it
    does not answer."""
    try:
        with urllib.request.urlopen(_control_url("/stat"), timeout=5) as response:
            root = ET.fromstring(response.read())  # noqa: S314 - our own nginx on loopback
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise NginxDown(str(exc)) from exc
        raise NginxUnavailable(str(exc)) from exc
    except (OSError, ET.ParseError) as exc:
        raise NginxUnavailable(str(exc)) from exc
    now = dt.datetime.now(dt.UTC)
    instance = Instance(
        pid=int(root.findtext("pid", "0")),
        started_at=now.replace(microsecond=0) - dt.timedelta(seconds=int(root.findtext("uptime", "0"))),
    )
    streams = []
    for app in root.iter("application"):
        app_name = app.findtext("name", "")
        for stream in app.iter("stream"):
            meta = stream.find("meta")
            # nginx-rtmp reports 0 until its first 10-second bandwidth window closes.
            measured = int(stream.findtext("time", "0")) >= BANDWIDTH_WINDOW_MS
            publishers = [c.findtext("id", "") for c in stream.iter("client") if c.find("publishing") is not None]
            streams.append(
                StreamStats(
                    app=app_name,
                    name=stream.findtext("name", ""),
                    bw_video=float(stream.findtext("bw_video", "0")) if measured else None,
                    bw_audio=float(stream.findtext("bw_audio", "0")) if measured else None,
                    video=_children(meta.find("video") if meta is not None else None),
                    audio=_children(meta.find("audio") if meta is not None else None),
                    publisher_id=publishers[0] if publishers else None,
                )
            )
    return State(instance=instance, streams=streams)


def fetch_stats() -> list[StreamStats]:
    """Every stream nginx-rtmp carries now (see fetch_state)."""
    return fetch_state().streams


def _children(element) -> dict:
    return {child.tag: (child.text or "") for child in element} if element is not None else {}


def drop_publisher(*, app: str, name: str) -> bool:
    """Disconnect the publisher of one stream at once, on whichever RTMP server it
    arrived. False if nginx had no such publisher."""
    dropped = False
    for server in range(len(rtmp_servers())):
        url = _control_url("/control/drop/publisher", srv=server, app=app, name=name)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                dropped |= response.read().strip() not in {b"", b"0"}
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise NginxUnavailable(str(exc)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise NginxUnavailable(str(exc)) from exc
    return dropped
