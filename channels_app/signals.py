"""What the channels domain announces to the apps built on it, which it may not import:
they connect receivers in their AppConfig.ready."""

from django.dispatch import Signal

# A channel's "Who can watch" changed (keyword: channel). Stages connects here to close
# the channel's chat and studio stage to whoever it no longer admits.
audience_changed = Signal()
