"""Side effects of the local plane, one module per domain: ingest (RTMP/HLS) and stages (WebRTC)."""
