"""The official JavaScript client (supabase-js 2) against the gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from promorang_sandbox.database import PUBLIC_BUCKET
from promorang_sandbox.jwtkeys import SERVICE_ROLE_KEY

if TYPE_CHECKING:
    from conftest import GatewayEnv

JS_DIR = Path(__file__).resolve().parent.parent / "js"
SCRIPT = JS_DIR / "supabase_roundtrip.mjs"
NODE_TIMEOUT_S = 60


def test_supabase_js_roundtrip(gateway_env: GatewayEnv) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.skip(f"{JS_DIR}/node_modules is missing: run `npm ci` in {JS_DIR}")
    proc = subprocess.run(
        [node, str(SCRIPT), gateway_env.url, SERVICE_ROLE_KEY, PUBLIC_BUCKET],
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        cwd=JS_DIR,
        check=False,
    )
    assert proc.returncode == 0, f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
    out = json.loads(proc.stdout)
    assert out["insert"]["status"] == 201
    assert out["select"] == {"status": 200, "title": out["insert"]["title"]}
    assert out["selectNone"] == {"status": 406, "code": "PGRST116"}
    assert out["count"] == {"status": 200, "count": 1}
    assert out["update"] == {"status": 200, "value": "posted"}
    assert out["delete"] == {"status": 204, "data": None, "remaining": 0}
    tag = out["insert"]["title"]
    assert out["upload"]["fullPath"] == f"{PUBLIC_BUCKET}/{tag}/hello world.txt"
    assert out["uploadDuplicate"] == {"statusCode": "409"}
    assert out["publicUrl"]["status"] == 200
    assert out["publicUrl"]["contentType"] == "text/plain"
    assert out["publicUrl"]["body"] == "hello from supabase-js"
    assert out["download"] == {"body": "blob body"}
    assert out["list"] == ["blob.txt", "hello world.txt"]
    assert out["remove"] == 2
