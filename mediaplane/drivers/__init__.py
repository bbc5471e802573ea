"""The outside processes the local plane talks to, one module each: `nginx`
(nginx-rtmp's configuration, statistics and control), `janus` (Janus Gateway's
configuration and VideoRoom API) and `compositor` (the compositor processes and their
RTP ports). Drivers know nothing of the plane's rows; services call them.
"""
