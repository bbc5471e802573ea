"""The IVS-compatible HTTP API of the local media plane.

`protocol` speaks botocore's rest-json (routing, validation against the service
model, error shapes), `sigv4` checks request signatures, and one module per
service (`ivs`, later `ivs_realtime`) carries out the operations.
"""
