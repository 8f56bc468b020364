"""Redactor: registered secrets, JWTs, URL passwords, sensitive headers and query parameters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _recording_server import RecordingServer

from promorang_gate.redaction import MASK, Redactor

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLWNhbmFyeQ"
PLAIN = "sk-canary-0f3b9c2d7e"


def test_registered_secret_and_its_url_encoded_form_are_removed() -> None:
    secret = "p@ss word/with+chars"
    redactor = Redactor([secret])
    text = f"a {secret} b p%40ss%20word%2Fwith%2Bchars c p%40ss+word%2Fwith%2Bchars"
    assert redactor.redact(text) == f"a {MASK} b {MASK} c {MASK}"


def test_short_values_are_not_registered() -> None:
    redactor = Redactor(["abc12", ""])
    assert redactor.redact("abc12 stays") == "abc12 stays"
    assert redactor.secrets_count == 0


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
