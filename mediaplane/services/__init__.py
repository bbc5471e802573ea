"""What the local plane's operations do, one module per domain; the API, views,
consumers and Celery tasks all call these, and these call the drivers.

`channels` (channels, stream keys, recording configurations, viewer-session
revocations), `ingest` (who may publish over RTMP, stream sessions, health),
`recording` (channel recordings), `playback` (the playback-auth server's state),
`metadata` (timed metadata), `public_keys` (playback key pairs and stage public
keys), `stages` (participants, WHIP/WHEP through Janus), `compositions`
(server-side composition), `tagging`; `errors` holds the refusal they raise.
"""
