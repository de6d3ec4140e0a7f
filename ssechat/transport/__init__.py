"""HTTP for `send`: the retry loop, one attempt's stream, the framing, the failures.

- `retry`: the retry loop and its policy (`Loop`, `RetryPolicy`, `Handler`);
- `stream`: one attempt (`open_stream`, `Stream`, `Timeouts`, `send_once`);
- `framing`: how a body is read (`Body`, `Dechunker`, `check_encoding`);
- `private`: every read of urllib3's and http.client's private attributes;
- `session`: requests' session, its adapters' retries off;
- `failures`: the `Failure` base, its four kinds, what an answer says.

docs/transport.md explains the choices.
"""
