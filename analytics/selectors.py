"""Reads of viewer analytics for pages: the session page's audience chart and totals."""

from __future__ import annotations

from collections import Counter

from channels_app.models import StreamSession

CHART_MINUTES = 2000  # points on the session page's charts (33 hours)


def session_audience(session: StreamSession) -> tuple[list[dict], dict]:
    """The session page's series (one point per minute) and its totals over the
    broadcast (peak players, stalls, who watched at what resolution and rendition and on what),
    from one read of the session's minutes."""
    chart = []
    resolutions: Counter = Counter()
    renditions: Counter = Counter()
    platforms: Counter = Counter()
    peak = stalls = 0
    for m in session.minutes.all():
        if len(chart) < CHART_MINUTES:
            chart.append(
                {
                    "t": m.minute.isoformat(),
                    "viewers": m.viewers,
                    "chat": m.chat_messages,
                    "kbps": round(m.bitrate / 1000) if m.bitrate is not None else None,
                    "latency": round(m.latency_p50, 2) if m.latency_p50 is not None else None,
                    "buffer": round(m.buffer_seconds, 2) if m.buffer_seconds is not None else None,
                    "stalls": m.stalls,
                }
            )
        resolutions.update(m.resolutions)
        renditions.update(m.renditions)
        platforms.update(m.platforms)
        peak, stalls = max(peak, m.viewers), stalls + m.stalls
    summary = {
        "peak_players": peak,
        "stalls": stalls,
        "resolutions": resolutions.most_common(5),
        "renditions": renditions.most_common(5),
        "platforms": platforms.most_common(5),
    }
    return chart, summary
