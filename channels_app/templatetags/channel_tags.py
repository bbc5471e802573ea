import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def live_duration(since: dt.datetime | None) -> str:
    """'a few seconds' for a stream that just started, else Django's timesince."""
    if since is None:
        return ""
    if timezone.now() - since < dt.timedelta(minutes=1):
        return "a few seconds"
    return timesince(since)


@register.filter
def seconds_as_duration(seconds: float | None) -> str:
    """1:02:03 or 4:05, as video players show lengths."""
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
