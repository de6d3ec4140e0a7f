"""`ssechat replay`: a saved capture played back, to a stream or over HTTP with faults.

- `timing`: when each segment is written (`Timing`), the stream writer
  (`replay_to_stream`) and where a `Last-Event-ID` resumes a capture;
- `faults`: the `--fault` language (`parse_faults`) and the error bodies;
- `server`: `ReplayServer`, the HTTP/1.1 server of `--serve`;
- `handler`: `ReplayHandler`, one request answered with its capture or fault.

The command itself is `ssechat.cli.replay`; the whole story is docs/replay.md.
"""
