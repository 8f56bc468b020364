"""Redactor: registered secrets, JWTs, URL passwords, sensitive headers and query parameters."""

from __future__ import annotations

import base64
import html
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from _recording_server import RecordingServer

from promorang_gate.secrets.redaction import MASK, Redactor

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLWNhbmFyeQ"
PLAIN = "sk-canary-0f3b9c2d7e"


def test_registered_secret_and_its_url_encoded_form_are_removed() -> None:
    secret = "p@ss word/with+chars"
    redactor = Redactor([secret])
    text = f"a {secret} b p%40ss%20word%2Fwith%2Bchars c p%40ss+word%2Fwith%2Bchars"
    assert redactor.redact(text) == f"a {MASK} b {MASK} c {MASK}"


def test_short_values_are_not_registered() -> None:
    redactor = Redactor(["abc1234", "", None])
    assert redactor.redact("abc1234 stays") == "abc1234 stays"
    assert redactor.secrets_count == 0


ODD = 'sk-odd/"q\\+\u00e9 7c1d5e9a'  # quote, backslash, slash, plus, non-ASCII, space


def _encodings(secret: str) -> dict[str, str]:
    """The forms a target may echo, computed here independently of the redactor."""
    data = secret.encode()
    forms = {
        "raw": secret,
        "url": urllib.parse.quote(secret, safe=""),
        "url_plus": urllib.parse.quote_plus(secret),
        "url_js": urllib.parse.quote(secret, safe="!'()*~"),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "json": json.dumps(secret)[1:-1],
        "json_unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "repr": repr(secret)[1:-1],
        "repr_bytes": repr(data)[2:-1],
        "xml": html.escape(secret),
        "repr_of_json": repr(json.dumps(secret))[2:-2],
        "json_of_json": json.dumps(json.dumps(secret))[3:-3],
    }
    for shift in range(3):
        blob = bytes(range(65, 65 + shift)) + data + b"tail"
        forms[f"b64_{shift}"] = base64.b64encode(blob).decode()
        forms[f"b64url_{shift}"] = base64.urlsafe_b64encode(blob).decode()
    return forms


@pytest.mark.parametrize("form", sorted(_encodings(ODD)))
def test_every_encoding_of_a_secret_is_removed(form: str) -> None:
    encoded = _encodings(ODD)[form]
    text = f"<{encoded}>"
    out = Redactor([ODD]).redact(text)
    assert MASK in out
    # What is left of a base64 text holds a few bits of the secret at most, never 6 characters.
    core = encoded if not form.startswith("b64") else encoded[3:-6]
    assert core not in out


def test_parts_of_secrets_are_registered() -> None:
    dsn = "postgresql://gate:pw-canary%2F%C3%A9x@db.example:5432/gate"
    kv = "host=db.example password='kv-canary 9z' dbname=gate"
    token = JWT
    redactor = Redactor([dsn, kv, token])
    text = "pw-canary/éx | pw-canary%2F%C3%A9x | kv-canary 9z | c2lnbmF0dXJlLWNhbmFyeQ"
    assert redactor.redact(text) == f"{MASK} | {MASK} | {MASK} | {MASK}"


def test_one_line_redacts_before_cutting() -> None:
    """A secret straddling the cut must not leave its first characters behind."""
    redactor = Redactor([PLAIN])
    text = "x" * 290 + PLAIN + "\nsecond line"
    line = redactor.one_line(text, 300)
    assert "sk-canary" not in line
    assert "sk-" not in line[-12:]
    assert line == "x" * 290 + MASK
    assert redactor.one_line("\n\n  first  \nsecond") == "first"


def test_json_files_are_redacted_decoded(tmp_path: Path) -> None:
    """Allure writes messages JSON-encoded: an escaped secret inside one is still found."""
    message = f"AssertionError: assert {json.dumps({'k': ODD})!r} == ''"  # pytest's repr
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"statusDetails": {"message": message}}), encoding="utf-8")
    assert Redactor([ODD]).redact_file(path)
    text = path.read_text(encoding="utf-8")
    assert "sk-odd" not in text
    assert MASK in json.loads(text)["statusDetails"]["message"]


def test_add_secret_rebuilds_the_pattern() -> None:
    redactor = Redactor()
    assert redactor.redact(PLAIN) == PLAIN
    redactor.add_secret(PLAIN)
    assert redactor.redact(f"key={PLAIN};") == f"key={MASK};"


def test_any_jwt_shaped_token_is_removed_without_registration() -> None:
    assert Redactor().redact(f"token {JWT} end") == f"token {MASK} end"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://gate:s3cr3t-pw@db.example:5432/postgres",
            f"postgresql://gate:{MASK}@db.example:5432/postgres",
        ),
        ("postgres://u:pw123456@localhost/x", f"postgres://u:{MASK}@localhost/x"),
        (
            "https://api.example/x?apikey=abcdef123&page=2&token=zzz&sig=1",
            f"https://api.example/x?apikey={MASK}&page=2&token={MASK}&sig={MASK}",
        ),
        (
            "https://h/p?access_token=a.b&api_key=k",
            f"https://h/p?access_token={MASK}&api_key={MASK}",
        ),
        ("https://h/p?keyword=fine&monkey=ok", "https://h/p?keyword=fine&monkey=ok"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert Redactor().redact_url(url) == expected


def test_header_values_are_removed_by_name_and_in_text() -> None:
    redactor = Redactor()
    headers = {
        "apiKey": "opaque-key-1",
        "Authorization": "Bearer opaque-token",
        "X-Api-Key": "k",
        "Cookie": "a=b",
        "Accept": "application/json",
    }
    assert redactor.redact_headers(headers) == {
        "apiKey": MASK,
        "Authorization": MASK,
        "X-Api-Key": MASK,
        "Cookie": MASK,
        "Accept": "application/json",
    }
    text = "Authorization: Bearer opaque-token\napikey: opaque-key-1\n{'cookie': 'a=b'}"
    assert redactor.redact(text) == f"Authorization: {MASK}\napikey: {MASK}\n{{'cookie': '{MASK}'}}"


def test_redact_bytes_text_and_binary() -> None:
    redactor = Redactor([PLAIN])
    assert redactor.redact_bytes(f"x {JWT} {PLAIN}".encode()) == f"x {MASK} {MASK}".encode()
    binary = b"\x89PNG\r\n\x1a\n\xff\xfe" + b"eyJabcdefgh.ijk.lmn"
    assert redactor.redact_bytes(binary) == binary  # binary: only verbatim secrets go
    assert redactor.redact_bytes(binary + PLAIN.encode()) == binary + MASK.encode()


def test_binary_data_loses_every_form_and_long_piece_of_a_secret() -> None:
    """A trace or a screenshot of megabytes: the encodings and the split halves of a key go,
    the bytes around them stay as they were (byte for byte, however not UTF-8 they are)."""
    key = "sk_live_binary_canary_7Hq2Zp9Lm4Xw8Rt"
    redactor = Redactor([key])
    half_a, half_b = key[:18], key[18:]
    encoded = base64.b64encode(key.encode())
    blob = bytes(range(256)) * 4
    data = blob + half_a.encode() + b"\xff\n" + half_b.encode() + blob + encoded + blob
    data += key.upper().encode() + b"\x00" + key.encode().hex().encode()
    cleaned = redactor.redact_bytes(data)
    for leaked in (key, half_a, half_b, encoded.decode(), key.upper(), key.encode().hex()):
        assert leaked.encode() not in cleaned, leaked
    assert cleaned.startswith(blob)
    assert cleaned.count(blob) == 3
    assert cleaned.count(MASK.encode()) == 5


def test_redact_file_rewrites_only_when_needed(tmp_path: Path) -> None:
    redactor = Redactor([PLAIN])
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing here\n")
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00\x10")
    dirty = tmp_path / "dirty.json"
    dirty.write_text(f'{{"key": "{PLAIN}", "jwt": "{JWT}"}}')
    assert not redactor.redact_file(clean)
    assert not redactor.redact_file(png)
    assert png.read_bytes() == b"\x89PNG\r\n\x1a\n\xff\x00\x10"
    assert redactor.redact_file(dirty)
    assert dirty.read_text() == f'{{"key": "{MASK}", "jwt": "{MASK}"}}'


def test_redaction_is_idempotent() -> None:
    redactor = Redactor([PLAIN])
    once = redactor.redact(f"Authorization: Bearer {PLAIN} {JWT} ?token={PLAIN}")
    assert redactor.redact(once) == once


def test_thread_safe_add_and_redact() -> None:
    redactor = Redactor()
    secrets = [f"secret-value-{i:04d}" for i in range(200)]
    errors: list[str] = []

    def add() -> None:
        for secret in secrets:
            redactor.add_secret(secret)

    def read() -> None:
        for _ in range(200):
            out = redactor.redact("secret-value-0000 and more")
            if out not in {"secret-value-0000 and more", f"{MASK} and more"}:
                errors.append(out)

    threads = [threading.Thread(target=add), *(threading.Thread(target=read) for _ in range(4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert redactor.redact(" ".join(secrets)) == " ".join([MASK] * len(secrets))


def test_fast_enough_for_large_text() -> None:
    redactor = Redactor([f"secret-value-{i:04d}" for i in range(50)])
    text = ("GET /api/content?page=1 HTTP/1.1 accept: */* " * 20 + "\n") * 2000  # ~1.8 MB
    started = time.perf_counter()
    redactor.redact(text)
    assert time.perf_counter() - started < 2.0


CANARY_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjYW5hcnkiOiJ0cnVlIn0.Y2FuYXJ5LXNpZ25hdHVyZQ"
CANARY_PLAIN = "sk-canary-7c1d5e9a3b"

CANARY_SUITE = """
import logging
import sys

import pytest


@pytest.mark.checklist("health.api")
def test_leaks_everywhere(gate_api, gate_target, gate_ready):
    key, jwt = gate_target.service_role_key, gate_target.creator_token
    response = gate_api.get(
        f"/api/health?apikey={key}&token={jwt}", headers={"X-Canary": f"{key} {jwt}"}
    )
    print("stdout:", key, jwt, response.text)
    print("stderr:", key, jwt, file=sys.stderr)
    logging.getLogger("canary").warning("log: %s %s", key, jwt)
    gate_ready(lambda: response, f"probe {key}")
    assert response.text == "", f"leaked {key} {jwt} {gate_api.describe_last()}"
"""


@pytest.fixture
def canary_server() -> Iterator[RecordingServer]:
    srv = RecordingServer(echo=f"{CANARY_PLAIN} {CANARY_JWT}")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.slow
def test_canary_secret_appears_in_no_output(
    project: pytest.Pytester, canary_server: RecordingServer, clean_env: pytest.MonkeyPatch
) -> None:
    for key in ("API_URL", "FRONTEND_URL", "SUPABASE_URL"):
        clean_env.setenv(f"GATE_LOCAL_{key}", canary_server.url)
    clean_env.setenv("GATE_LOCAL_SERVICE_ROLE_KEY", CANARY_PLAIN)
    clean_env.setenv("GATE_LOCAL_CREATOR_TOKEN", CANARY_JWT)
    project.makepyfile(test_canary=CANARY_SUITE)
    result = project.runpytest_subprocess(
        "--env", "local", "--junitxml=junit.xml", "--alluredir=allure", "-rA", "-v"
    )
    result.assert_outcomes(failed=1)
    # The canary really travelled: header, query string and response body.
    (received,) = canary_server.received
    assert CANARY_PLAIN in received["path"]
    assert CANARY_JWT in received["headers"]["X-Canary"]

    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    files = [project.path / "junit.xml"]
    files += [p for p in (project.path / "allure").rglob("*") if p.is_file()]
    files += [p for p in (project.path / "reports").rglob("*") if p.is_file()]
    for path in files:
        outputs[str(path.relative_to(project.path))] = path.read_bytes().decode("utf-8", "replace")
    assert any(name.startswith("allure") and "-attachment" in name for name in outputs)
    assert "reports/gate-local.json" in outputs
    assert "leaked [REDACTED] [REDACTED]" in outputs["stdout"]
    leaks = [
        name
        for name, text in outputs.items()
        for canary in (CANARY_PLAIN, CANARY_JWT, "sk-canary", "eyJjYW5hcnki")
        if canary in text
    ]
    assert leaks == []


def test_a_secret_in_unicode_escapes_is_found_in_json_that_does_not_parse() -> None:
    secret = "sk-canary-escaped-5a7d"
    escaped = "".join(f"\\u{ord(c):04x}" for c in secret)
    shown = Redactor([secret]).redact('{"echo": "' + escaped + '", broken')
    assert escaped not in shown
    assert secret not in shown
    assert MASK in shown
    untouched = 'caf\\u00e9 "\\ud83d\\ude00"'  # escapes hiding no secret stay as they are
    assert Redactor([secret]).redact(untouched) == untouched


def test_a_failed_comparison_is_redacted_before_it_is_cut() -> None:
    """pytest cuts long values in its assertion diff; the piece of a secret left would be no
    form the redactor knows. The gate's explanation redacts whole values first."""
    secret = "sk-canary-compare-77aa"
    redactor = Redactor([secret])
    assert redactor.comparison("==", "plain", "") == []
    lines = redactor.comparison("==", "x" * 1990 + secret, "", limit=2000)
    assert lines
    assert "sk-canar" not in "\n".join(lines)
