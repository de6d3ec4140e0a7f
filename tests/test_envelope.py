"""What comes around a stream: `curl -i`'s HTTP head, and a body with no SSE event."""

from __future__ import annotations

from ssechat.envelope import BODY_LIMIT, Body, HttpHead


def test_a_head_is_held_until_its_blank_line_and_the_last_status_is_kept() -> None:
    head = HttpHead()
    assert (
        head.skip(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Unavailable\r\nX: y\r\n", final=False)
        == b""
    )
    assert not head.done
    assert head.skip(b"\r\ndata: x\n\n", final=False) == b"data: x\n\n"
    assert head.done and head.status == 503


def test_an_input_without_a_head_passes_through_once_it_cannot_be_one() -> None:
    head = HttpHead()
    assert head.skip(b"HT", final=False) == b""  # may still be `HTTP/`
    assert head.skip(b"ML page", final=False) == b"HTML page"
    assert head.done and head.status is None
    short = HttpHead()
    assert short.skip(b"HT", final=True) == b"HT"


def test_a_body_with_no_event_is_reported_for_what_it_is() -> None:
    json_body = Body()
    json_body.keep(b'{"error": {"message": "bad key", "code": "invalid_api_key"}}')
    assert json_body.error(looks_like_sse=True, http_status=None) == ("bad key", "invalid_api_key")
    html = Body()
    html.keep(b"<html>\n<body>Bad gateway</body>\n</html>\n")
    message, code = html.error(looks_like_sse=False, http_status=None) or ("", "")
    assert code == "not_sse" and "<html> <body>Bad gateway" in message
    empty = Body()
    assert empty.error(looks_like_sse=True, http_status=502) == ("HTTP 502", 502)
    assert Body().error(looks_like_sse=True, http_status=200) is None


def test_a_body_over_the_limit_is_no_json_document_but_keeps_its_start() -> None:
    body = Body()
    body.keep(b"{" + b" " * BODY_LIMIT)
    body.keep(b"}")
    message, code = body.error(looks_like_sse=False, http_status=None) or ("", "")
    assert code == "not_sse" and message.endswith("it starts: '{'")
