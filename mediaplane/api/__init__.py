"""The IVS-compatible HTTP API of the local media plane.

`protocol` speaks botocore's rest-json (routing, bounded JSON, validation against
the service model, error shapes), `sigv4` checks request signatures as AWS does,
`paging` issues and checks signed nextTokens, and `ivs`, `ivs_realtime`,
`compositions` and `tagging` (both services) carry out the operations.
"""
