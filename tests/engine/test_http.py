"""GateHttp: timeouts, the write guard before sending, redacted evidence, errors that propagate."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator

import httpcore  # noqa: F401  # see below
import httpx
import pytest
from _recording_server import RecordingServer

from promorang_gate.secrets.redaction import MASK, Redactor
from promorang_gate.target.http import BODY_LIMIT, GateHttp, GuardedTransport, WriteRefused, guard

SECRET = "sk-canary-http-5b1e0a"
# httpx imports httpcore lazily and maps its exception classes once. An in-process pytester run
# that first imports httpcore drops it from sys.modules afterwards, so a later re-import makes
# classes httpx no longer maps. Importing it here, at collection, keeps one httpcore.


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv = RecordingServer(echo=SECRET)
    try:
        yield srv
    finally:
        srv.stop()


def _client(url: str | None, writes: bool, **kw: object) -> GateHttp:
    return GateHttp("local", url, 2.0, writes, Redactor([SECRET]), attach=False, **kw)  # type: ignore[arg-type]


def test_every_request_has_the_explicit_timeout(server: RecordingServer) -> None:
    with _client(server.url, True) as http:
        assert http.client.timeout == httpx.Timeout(2.0)
        assert http.get("/api/health").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_refused_before_sending(server: RecordingServer, method: str) -> None:
    with _client(server.url, False) as http, pytest.raises(WriteRefused) as info:
        http.request(method, "/api/content?x=1", json={"title": "t"})
    assert str(info.value) == (
        f"writes not allowed on local: {method} /api/content refused before sending"
    )
    assert isinstance(info.value, pytest.skip.Exception)
    assert server.received == []


def test_reads_pass_and_writes_pass_when_allowed(server: RecordingServer) -> None:
    with _client(server.url, False) as http:
        assert http.get("/a").status_code == 200
        assert http.head("/a").status_code == 200
        assert http.options("/a").status_code == 200
    with _client(server.url, True) as http:
        assert http.post("/b", json={}).status_code == 200
        assert http.delete("/b").status_code == 200
    assert [r["method"] for r in server.received] == ["GET", "HEAD", "OPTIONS", "POST", "DELETE"]


def test_guard_function_and_transport_guard() -> None:
    guard("GET", "https://x/y", False, "prod")
    guard("post", "https://x/y", True, "local")
    with pytest.raises(WriteRefused, match=r"writes not allowed on prod: PATCH /y refused"):
        guard("patch", "https://x/y?token=abc", False, "prod")
    http = _client(None, False)
    with pytest.raises(WriteRefused):
        http.transport_guard("DELETE", "https://x/z")
    http.close()


def test_guarded_transport_protects_any_client(server: RecordingServer) -> None:
    transport = GuardedTransport(httpx.HTTPTransport(), target_name="prod", writes_allowed=False)
    with httpx.Client(transport=transport, timeout=2.0) as client:
        assert client.get(f"{server.url}/ok").status_code == 200
        with pytest.raises(WriteRefused):
            client.put(f"{server.url}/nope", content=b"x")
    assert [r["method"] for r in server.received] == ["GET"]


def test_exchanges_are_recorded_redacted(server: RecordingServer) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    with _client(server.url, True, default_headers={"Authorization": f"Bearer {jwt}"}) as http:
        http.post(f"/api/x?apikey={SECRET}&page=1", headers={"apikey": SECRET}, json={"k": SECRET})
        (exchange,) = http.last_exchanges()
    assert exchange.title == "POST /api/x → 200"
    assert exchange.status == 200
    assert exchange.elapsed_s is not None
    assert SECRET not in exchange.text
    assert jwt not in exchange.text
    assert f"apikey={MASK}&page=1" in exchange.text
    assert f"authorization: {MASK}" in exchange.text
    assert '"echo": "[REDACTED]"' in exchange.text  # response body
    assert f"set-cookie: {MASK}" in exchange.text
    assert "HTTP 200 OK" in exchange.text
    assert all(SECRET not in r for r in (exchange.url, http.describe_last()))


def test_header_lines_are_all_kept_and_redacted_as_one_block(server: RecordingServer) -> None:
    """A repeated header is shown each time; a secret in any header's value, as sent or
    base64-encoded, is masked as it was when each value was redacted alone."""
    headers = [
        ("x-trace", "one"),
        ("x-trace", "two"),
        ("x-echo", f"prefix {SECRET} suffix"),
        ("x-encoded", base64.b64encode(SECRET.encode()).decode()),
        ("cookie", "session=plain"),
    ]
    with _client(server.url, False) as http:
        http.get("/api/x", headers=headers)
        (exchange,) = http.last_exchanges()
    request = exchange.text.split("\n\n", 1)[0]
    assert "x-trace: one\nx-trace: two" in request
    assert f"x-echo: prefix {MASK} suffix" in request
    assert f"x-encoded: {MASK}" in request
    assert f"cookie: {MASK}" in request
    assert SECRET not in exchange.text


def test_ring_buffer_keeps_the_last_exchanges(server: RecordingServer) -> None:
    with _client(server.url, True) as http:
        for i in range(25):
            http.get(f"/n/{i}")
        last = http.last_exchanges()
    assert len(last) == 20
    assert last[-1].url.endswith("/n/24")
    assert last[0].url.endswith("/n/5")


def test_large_bodies_are_truncated(server: RecordingServer) -> None:
    with _client(server.url, True) as http:
        http.post("/big", content=b"a" * (BODY_LIMIT + 1000))
        text = http.last_exchanges()[-1].text
    assert "a" * BODY_LIMIT in text
    assert "a" * (BODY_LIMIT + 1) not in text
    assert f"({BODY_LIMIT + 1000} bytes, truncated)" in text


def test_json_bodies_are_indented_and_still_redacted(server: RecordingServer) -> None:
    with _client(server.url, True) as http:
        http.post("/api/x", json={"title": "t", "nested": {"key": SECRET}})
        text = http.last_exchanges()[-1].text
    assert '{\n  "title": "t",\n  "nested": {\n    "key": "[REDACTED]"\n  }\n}' in text
    assert '{\n  "path": "/api/x",\n  "echo": "[REDACTED]"\n}' in text  # the response
    assert SECRET not in text


def test_a_secret_escaped_in_json_is_redacted_once_decoded(server: RecordingServer) -> None:
    escaped = json.dumps({"k": SECRET}).replace("-", "\\u002d")  # valid JSON, no literal secret
    assert SECRET not in escaped
    with _client(server.url, True) as http:
        http.post("/api/x", content=escaped, headers={"content-type": "application/json"})
        text = http.last_exchanges()[-1].text
    assert SECRET not in text
    assert '"k": "[REDACTED]"' in text


def test_a_secret_at_the_cut_is_redacted_before_truncating(server: RecordingServer) -> None:
    body = "a" * (BODY_LIMIT - 5) + SECRET  # the cut falls inside the secret
    with _client(server.url, True) as http:
        http.post("/big", content=body.encode())
        text = http.last_exchanges()[-1].text
    assert SECRET[:5] not in text.split("HTTP 200", 1)[0]


def test_bodies_that_are_not_json_stay_as_sent(server: RecordingServer) -> None:
    with _client(server.url, True) as http:
        http.post("/form", content=b"{not json", headers={"content-type": "application/json"})
        text = http.last_exchanges()[-1].text
    assert "\n{not json\n" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_errors_propagate_as_httpx_errors() -> None:
    with _client(f"http://127.0.0.1:{_free_port()}", True) as http:
        with pytest.raises(httpx.ConnectError):
            http.get(f"/h?token={SECRET}")
        (exchange,) = http.last_exchanges()
    assert exchange.status is None
    assert "no response: ConnectError" in exchange.text
    assert SECRET not in exchange.text


def test_write_refusal_is_reported_skipped(pytester: pytest.Pytester) -> None:
    srv = RecordingServer()
    try:
        pytester.makepyfile(
            f"""
            from promorang_gate.target.http import GateHttp
            from promorang_gate.secrets.redaction import Redactor

            def test_create():
                http = GateHttp("prod", "{srv.url}", 5.0, False, Redactor())
                try:
                    http.post("/api/content", json={{"title": "x"}})
                finally:
                    http.close()
            """
        )
        result = pytester.runpytest("-p", "no:promorang_gate", "-rs")
    finally:
        srv.stop()
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED *writes not allowed on prod: POST /api/content refused before sending"]
    )
    assert srv.received == []


def test_supabase_traffic_goes_through_the_guard(server: RecordingServer) -> None:
    from test_ledger import make_target

    from promorang_gate.target.supabase_access import connect_db, make_supabase

    target = make_target(False, supabase_url=server.url, service_role_key=SECRET)
    http = _client(None, False)
    client = make_supabase(target, http.client)
    client.table("content_items").select("id").eq("id", "x").execute()
    with pytest.raises(WriteRefused, match="DELETE /rest/v1/content_items refused"):
        client.table("content_items").delete().eq("id", "x").execute()
    with pytest.raises(WriteRefused, match="DELETE /storage/v1/object/content-media refused"):
        client.storage.from_("content-media").remove(["a.png"])
    assert [r["method"] for r in server.received] == ["GET"]
    assert server.received[0]["path"].startswith("/rest/v1/content_items?select=id")
    (exchange,) = http.last_exchanges()
    assert SECRET not in exchange.text
    http.close()
    assert connect_db(target) is None
