"""The outside processes the local plane talks to, one module each: `nginx`
(nginx-rtmp's configuration, statistics and control), `janus` (Janus Gateway's
configuration and VideoRoom API), `compositor` (the compositor processes and their
RTP ports) and `ffmpeg` (ffmpeg and ffprobe jobs). Drivers know nothing of the
plane's rows; services and tasks call them.
"""
