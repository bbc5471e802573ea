"""Viewer analytics: players report how playback goes; Celery folds the reports into
one row per broadcast and minute, with the chat's pace beside them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import statistics
from collections import Counter, defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone
from ua_parser import parse as parse_user_agent

from analytics.models import PlaybackReport, SessionMinute
from channels_app.models import Channel, StreamSession
from chat.models import Message

MINUTE = dt.timedelta(minutes=1)
# What a report may carry; anything else is refused with a message, not stored.
REPORT_LIMITS = {
    "bitrate": (0, 100_000_000),
    "width": (0, 8192),
    "height": (0, 8192),
    "buffer": (0, 600),
    "latency": (0, 3600),
    "stalls": (0, 1000),
    "stalledSeconds": (0, 600),
}


# A rendition's name as playlists give it ("720p30", "source"), or blank.
RENDITION = re.compile(r"[A-Za-z0-9._-]{0,32}")


class ReportError(Exception):
    pass


def viewer_key(address: str, user_agent: str, day: dt.date) -> str:
    """Counts distinct viewers without keeping addresses: a keyed hash that changes daily."""
    message = f"{address}|{user_agent}|{day.isoformat()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def _number(data: dict, name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    low, high = REPORT_LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ReportError(f"{name} must be a number from {low} to {high}")
    return value


def record_report(*, channel: Channel, data: dict, address: str, user_agent: str) -> bool:
    """Store one player report for the channel's current broadcast; False if it is offline."""
    playback_id = data.get("playbackId")
    if not isinstance(playback_id, str) or not 8 <= len(playback_id) <= 36:
        raise ReportError("playbackId must be a string of 8 to 36 characters")
    figures = {name: _number(data, name) for name in REPORT_LIMITS}
    rendition = data.get("rendition") if data.get("rendition") is not None else ""
    if not isinstance(rendition, str) or not RENDITION.fullmatch(rendition):
        raise ReportError("rendition must be at most 32 letters, digits, dots, dashes or underscores")
    session = channel.sessions.filter(ended_at__isnull=True).order_by("-started_at").first()
    if session is None:
        return False
    agent = parse_user_agent(user_agent[:500])
    now = timezone.now()
    PlaybackReport.objects.create(
        session=session,
        received_at=now,
        playback_id=playback_id,
        viewer=viewer_key(address, user_agent, now.date()),
        rendition=rendition,
        bitrate=figures["bitrate"],
        width=figures["width"],
        height=figures["height"],
        buffer_seconds=figures["buffer"],
        latency_seconds=figures["latency"],
        stalls=int(figures["stalls"] or 0),
        stalled_seconds=figures["stalledSeconds"] or 0,
        browser=(agent.user_agent.family if agent.user_agent else "Other")[:40],
        os=(agent.os.family if agent.os else "Other")[:40],
    )
    return True


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _median(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _figures(reports: list[PlaybackReport]) -> dict:
    latest = {r.playback_id: r for r in sorted(reports, key=lambda r: r.received_at)}  # each player's last word
    return {
        "viewers": len(latest),
        "bitrate": _mean([r.bitrate for r in reports]),
        "latency_p50": _median([r.latency_seconds for r in reports]),
        "buffer_seconds": _mean([r.buffer_seconds for r in reports]),
        "stalls": sum(r.stalls for r in reports),
        "stalled_seconds": sum(r.stalled_seconds for r in reports),
        "resolutions": dict(Counter(f"{r.width}x{r.height}" for r in latest.values() if r.width and r.height)),
        "renditions": dict(Counter(r.rendition for r in latest.values() if r.rendition)),
        "platforms": dict(Counter(f"{r.browser} / {r.os}" for r in latest.values())),
    }


def _floor(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def aggregate(now: dt.datetime | None = None) -> int:
    """Fold every complete minute into SessionMinute rows and drop the reports used.
    Covers broadcasts that are live, ended lately, or have reports. Returns rows written."""
    until = _floor(now or timezone.now())
    reports = list(PlaybackReport.objects.filter(received_at__lt=until))
    by_minute: dict[tuple[int, dt.datetime], list[PlaybackReport]] = defaultdict(list)
    for report in reports:
        by_minute[(report.session_id, _floor(report.received_at))].append(report)
    sessions = StreamSession.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=until - 10 * MINUTE) | Q(pk__in={s for s, _ in by_minute})
    )
    written = 0
    with transaction.atomic():
        for session in sessions:
            last = session.minutes.order_by("-minute").values_list("minute", flat=True).first()
            start = last + MINUTE if last else _floor(session.started_at)
            end = min(until, _floor(session.ended_at) + MINUTE) if session.ended_at else until
            minutes = {start + i * MINUTE for i in range(max(0, int((end - start) / MINUTE)))}
            minutes |= {minute for (s, minute) in by_minute if s == session.pk}
            if not minutes:
                continue
            chat = dict(
                Message.objects.filter(room__channel_id=session.channel_id)
                .filter(sent_at__gte=min(minutes), sent_at__lt=max(minutes) + MINUTE)
                .annotate(minute=TruncMinute("sent_at"))
                .values_list("minute")
                .annotate(count=Count("id"))
            )
            for minute in sorted(minutes):
                figures = _figures(by_minute.get((session.pk, minute), []))
                SessionMinute.objects.update_or_create(
                    session=session, minute=minute, defaults={**figures, "chat_messages": chat.get(minute, 0)}
                )
                written += 1
        PlaybackReport.objects.filter(pk__in=[r.pk for r in reports]).delete()
    return written
