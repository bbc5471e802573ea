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
