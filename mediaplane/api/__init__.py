"""The IVS-compatible HTTP API of the local media plane: requests in, responses out.

`protocol` speaks botocore's rest-json (routing, bounded JSON, validation against
the service model, error shapes, and a service's refusal as the error it names),
`sigv4` checks request signatures as AWS does, `paging` issues and checks signed
nextTokens, and `ivs`, `ivs_realtime`, `compositions` and `tagging` (both services)
shape each operation's input and output. What an operation does, every write
included, is mediaplane.services'.
"""
