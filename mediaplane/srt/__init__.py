"""SRT ingest for the local plane: a gateway over libsrt (see gateway.py) and the
plane's side of its admission check (admission.py)."""
