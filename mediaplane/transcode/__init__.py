"""Transcoded renditions for STANDARD and ADVANCED channels: the ladder (ladder.py) and
the stack part that runs one ffmpeg per live channel (manager.py)."""
