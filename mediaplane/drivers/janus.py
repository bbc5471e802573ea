"""Driver for Janus Gateway: its configuration, its HTTP API and its VideoRoom plugin.

Janus runs on loopback with an API secret; rooms carry their own secret and only
the plane (holding the plugin's admin key) can create them. One Janus session and
one plugin handle serve one WebRTC connection (a WHIP publisher or a WHEP viewer).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine

VIDEOROOM = "janus.plugin.videoroom"
NO_SUCH_ROOM = 426
NO_SUCH_FEED = 428
LIB_DIR = "/usr/lib/x86_64-linux-gnu/janus"


def _lib_dir() -> str:
    """Debian installs Janus's plugins under the machine's multiarch triplet."""
    for candidate in Path("/usr/lib").glob("*/janus"):
        if (candidate / "plugins").is_dir():
            return str(candidate)
    return LIB_DIR


def render_config(*, config_dir: Path, events_url: str) -> dict[str, str]:
    """Janus's configuration files (name -> text) for a Janus run with `-F config_dir`;
    its event handler posts to `events_url`; with TURN on, it gets relay credentials for
    each connection from the plane (mediaplane.webrtc.janus_turn)."""
    context = Context(
        {
            "config_dir": config_dir,
            "lib_dir": _lib_dir(),
            "api_secret": settings.JANUS_API_SECRET,
            "admin_secret": settings.JANUS_ADMIN_SECRET,
            "api_port": settings.JANUS_API_PORT,
            "admin_port": settings.JANUS_ADMIN_PORT,
            "rtp_port_range": settings.JANUS_RTP_PORTS,
            "interface": "127.0.0.1" if settings.JANUS_LOOPBACK_ICE else "",
            "ice_enforce_list": "lo" if settings.JANUS_LOOPBACK_ICE else settings.JANUS_ICE_ENFORCE_LIST,
            "nat_1_1_mapping": settings.JANUS_NAT_1_1_MAPPING,
            "events_url": events_url,
            "turn_rest_api": f"http://127.0.0.1:{settings.APP_PORT}/_plane/janus/turn" if settings.TURN_ENABLED else "",
            "turn_rest_api_key": settings.MEDIA_CALLBACK_SECRET,
        }
    )
    engine = Engine(autoescape=False)
    return {
        template.name: engine.from_string(template.read_text()).render(context)
        for template in (settings.BASE_DIR / "deploy" / "janus").glob("*.jcfg")
    }


class JanusError(Exception):
    """Janus answered with an error, or could not be reached."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class JanusUnavailable(JanusError):
    pass


def _url(path: str = "") -> str:
    return f"http://127.0.0.1:{settings.JANUS_API_PORT}/janus{path}"


def _admin_url() -> str:
    return f"http://127.0.0.1:{settings.JANUS_ADMIN_PORT}/admin"


def _post(url: str, body: dict, timeout: float = 10) -> dict:
    payload = {**body, "transaction": secrets.token_hex(8)}
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.load(response)
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise JanusUnavailable(f"Janus is not reachable: {exc}") from exc
    if reply.get("janus") == "error":
        error = reply.get("error", {})
        raise JanusError(error.get("reason", "Janus error"), error.get("code"))
    return reply


def _api(body: dict, path: str = "", timeout: float = 10) -> dict:
    return _post(_url(path), {**body, "apisecret": settings.JANUS_API_SECRET}, timeout)


def _admin(body: dict) -> dict:
    return _post(_admin_url(), {**body, "admin_secret": settings.JANUS_ADMIN_SECRET})


def list_sessions() -> set[int]:
    return set(_admin({"janus": "list_sessions"}).get("sessions", []))


@dataclass
class Handle:
    """A Janus session with one VideoRoom handle attached."""

    session_id: int
    handle_id: int

    @classmethod
    def open(cls) -> Handle:
        session_id = _api({"janus": "create"})["data"]["id"]
        try:
            handle_id = _api({"janus": "attach", "plugin": VIDEOROOM}, f"/{session_id}")["data"]["id"]
        except JanusError:
            destroy_session(session_id)
            raise
        return cls(session_id, handle_id)

    @property
    def path(self) -> str:
        return f"/{self.session_id}/{self.handle_id}"

    def request(self, body: dict) -> dict:
        """A synchronous VideoRoom request (create, exists, listparticipants, ...)."""
        reply = _api({"janus": "message", "body": body}, self.path)
        data = reply.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(data["error"], data.get("error_code"))
        return data

    def message(self, body: dict, jsep: dict | None = None, timeout: float = 10) -> tuple[dict, dict | None]:
        """An asynchronous VideoRoom request: waits for its event; returns (data, jsep)."""
        message = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = _api(message, self.path)
        if reply.get("janus") == "success":  # answered at once
            return reply["plugindata"]["data"], reply.get("jsep")
        transaction = reply["transaction"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self._poll():
                if event.get("transaction") != transaction or event.get("janus") != "event":
                    continue
                data = event.get("plugindata", {}).get("data", {})
                if "error" in data:
                    raise JanusError(data["error"], data.get("error_code"))
                return data, event.get("jsep")
        raise JanusError(f"Janus did not answer {body.get('request')} within {timeout:.0f}s")

    def _poll(self) -> list[dict]:
        url = f"{_url(f'/{self.session_id}')}?maxev=10&apisecret={settings.JANUS_API_SECRET}"
        try:
            with urllib.request.urlopen(url, timeout=35) as response:
                events = json.load(response)
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
            raise JanusUnavailable(f"Janus is not reachable: {exc}") from exc
        return events if isinstance(events, list) else [events]

    def trickle(self, candidates: list[dict], completed: bool = False) -> None:
        if candidates:
            _api({"janus": "trickle", "candidates": candidates}, self.path)
        if completed:
            _api({"janus": "trickle", "candidate": {"completed": True}}, self.path)

    def close(self) -> None:
        destroy_session(self.session_id)


def destroy_session(session_id: int) -> None:
    with contextlib.suppress(JanusError):  # already gone: what we wanted
        _api({"janus": "destroy"}, f"/{session_id}")


# --- Rooms -----------------------------------------------------------------------------


def ensure_room(*, room: str, secret: str, publishers: int, description: str = "") -> None:
    """Create the VideoRoom for a stage unless it exists (Janus may have restarted)."""
    if room_exists(room=room):
        return
    handle = Handle.open()
    try:
        handle.request(
            {
                "request": "create",
                "room": room,
                "admin_key": settings.JANUS_ADMIN_SECRET,
                "secret": secret,
                "description": description[:100],
                "publishers": publishers,
                "is_private": True,
                "bitrate": 2_500_000,
                "fir_freq": 2,  # keyframes every 2 s: late joiners and RTP forwarders start fast
                "audiocodec": "opus",
                "videocodec": "vp8,h264",
                "notify_joining": True,
                "permanent": False,
            }
        )
    finally:
        handle.close()


def room_exists(*, room: str) -> bool:
    handle = Handle.open()
    try:
        return bool(handle.request({"request": "exists", "room": room}).get("exists"))
    finally:
        handle.close()


def destroy_room(*, room: str, secret: str) -> None:
    handle = Handle.open()
    try:
        handle.request({"request": "destroy", "room": room, "secret": secret})
    except JanusError as exc:
        if exc.code != NO_SUCH_ROOM:
            raise
    finally:
        handle.close()


def kick(*, room: str, secret: str, participant_id: str) -> None:
    handle = Handle.open()
    try:
        handle.request({"request": "kick", "room": room, "secret": secret, "id": participant_id})
    except JanusError as exc:
        if exc.code not in (NO_SUCH_ROOM, NO_SUCH_FEED):
            raise
    finally:
        handle.close()


def list_publishers(*, room: str) -> list[dict]:
    handle = Handle.open()
    try:
        return [
            p
            for p in handle.request({"request": "listparticipants", "room": room})["participants"]
            if p.get("publisher")
        ]
    except JanusError as exc:
        if exc.code == NO_SUCH_ROOM:
            return []
        raise
    finally:
        handle.close()


# --- RTP forwarders (compositions) -----------------------------------------------------


def rtp_forward(*, room: str, secret: str, publisher_id: str, host: str, streams: list[dict]) -> list[int]:
    """Forward a publisher's streams as plain RTP to `host`; returns the forwarder ids.
    Each stream: {"mid", "port", "pt"} (and "simulcast": True to get the best layer)."""
    handle = Handle.open()
    try:
        reply = handle.request(
            {
                "request": "rtp_forward",
                "room": room,
                "secret": secret,
                "admin_key": settings.JANUS_ADMIN_SECRET,
                "publisher_id": publisher_id,
                "host": host,
                "host_family": "ipv4",
                "streams": streams,
            }
        )
    finally:
        handle.close()
    return [f["stream_id"] for f in reply.get("forwarders", []) if "stream_id" in f]


def stop_rtp_forward(*, room: str, secret: str, publisher_id: str, stream_id: int) -> None:
    handle = Handle.open()
    try:
        handle.request(
            {
                "request": "stop_rtp_forward",
                "room": room,
                "secret": secret,
                "admin_key": settings.JANUS_ADMIN_SECRET,
                "publisher_id": publisher_id,
                "stream_id": stream_id,
            }
        )
    except JanusError as exc:
        if exc.code not in (NO_SUCH_ROOM, NO_SUCH_FEED):
            raise
    finally:
        handle.close()


def list_forwarders(*, room: str, secret: str) -> dict[str, set[int]]:
    """Forwarder ids per publisher, as Janus has them now (empty after a restart)."""
    handle = Handle.open()
    try:
        reply = handle.request({"request": "listforwarders", "room": room, "secret": secret})
    except JanusError as exc:
        if exc.code == NO_SUCH_ROOM:
            return {}
        raise
    finally:
        handle.close()
    return {
        str(p["publisher_id"]): {f["stream_id"] for f in p.get("forwarders", []) if "stream_id" in f}
        for p in reply.get("publishers", [])
    }
