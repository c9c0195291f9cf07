"""CORS, as a browser page running an AWS SDK meets it: the preflight `OPTIONS` (never signed)
is answered with what the page asked for, and every answer to a request with an `Origin`, a
success or an error, can be read by the page, request id headers included."""

import http.client
import urllib.parse

ORIGIN = "http://localhost:3000"
# What a browser's fetch of the JavaScript SDK v3 asks to send.
ASKED_HEADERS = "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent"


def _request(endpoint, method, headers, body=b""):
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, "/", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _exposed(headers):
    return [h.strip().lower() for h in headers["access-control-expose-headers"].split(",")]


def test_preflight_is_answered_without_a_signature(endpoint):
    status, headers, body = _request(
        endpoint,
        "OPTIONS",
        {
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ASKED_HEADERS,
        },
    )
    assert status == 200, body
    assert body == b""
    assert headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == ASKED_HEADERS
    assert int(headers["access-control-max-age"]) > 0
    assert headers.get("x-amzn-requestid")


def test_preflight_without_requested_headers_allows_the_method(endpoint):
    status, headers, _ = _request(
        endpoint, "OPTIONS", {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert status == 200
    assert headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert headers["access-control-allow-methods"] == "POST"
    assert "access-control-allow-headers" not in headers


def test_signed_call_with_an_origin_is_readable_by_the_page(raw_post, stream):
    name = stream(1)
    r = raw_post("DescribeStreamSummary", {"StreamName": name}, headers={"Origin": ORIGIN})
    assert r.status == 200, r.body
    assert r.json["StreamDescriptionSummary"]["StreamName"] == name
    assert r.headers["access-control-allow-origin"] in ("*", ORIGIN)
    exposed = _exposed(r.headers)
    for name in ("x-amzn-requestid", "x-amz-id-2"):
        assert name in exposed, exposed
    assert r.headers.get("x-amzn-requestid")


def test_error_answers_to_an_origin_are_readable_too(raw_post):
    # The SDK must read the error type, so a refused call is marked as a successful one is.
    r = raw_post("DescribeStreamSummary", {"StreamName": "cors-no-such-stream"}, headers={"Origin": ORIGIN})
    assert r.status == 400
    assert r.error_type == "ResourceNotFoundException"
    assert r.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert "x-amzn-requestid" in _exposed(r.headers)
    r = raw_post("ListStreams", b"{}", sign=False, headers={"Origin": ORIGIN})
    assert r.error_type == "MissingAuthenticationTokenException"
    assert r.headers["access-control-allow-origin"] in ("*", ORIGIN)


def test_no_origin_no_cors_headers(raw_post):
    r = raw_post("ListStreams", b"{}")
    assert r.status == 200
    assert not [h for h in r.headers if h.startswith("access-control-")], r.headers


def test_options_without_preflight_headers_is_not_a_preflight(endpoint):
    # No Access-Control-Request-Method: an ordinary request, answered as AWS answers a
    # request it cannot route (not a 200 with CORS grants).
    status, headers, body = _request(endpoint, "OPTIONS", {"Origin": ORIGIN})
    assert 400 <= status < 500, (status, body)
    assert "access-control-allow-methods" not in headers
    assert headers["access-control-allow-origin"] in ("*", ORIGIN)
