"""Launch evidence read from the repository: API docs against the contract and the Growth Hub
routes the backend declares; release notes with a rollback plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from app_repos import API_DOCS, NOTES_WITH_ROLLBACK, NOTES_WITHOUT_ROLLBACK, write_repo
from promorang_gate.release.launch_evidence import (
    EvidenceMissing,
    Operation,
    check_api_docs,
    check_rollback_plan,
    declared_routes,
    documented_operations,
    growth_hub_routes,
    openapi_operations,
)

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "openapi.yaml"

# Promorang's docs state a base URL and give paths relative to it (CONTRACT.md §6.15).
GROWTH_DOCS = """\
# Growth Hub API Documentation

## Base URL

```
https://api.promorang.com/api/growth
```

#### Get Staking Channels

```
GET /staking/channels
```
"""

# Express as Promorang writes it: routers mounted by the app, one of them nested.
SERVER_JS = """\
const express = require('express');
const app = express();
const growth = require('./api/growth');
app.use('/api/content', require('./api/content'));
app.use('/api/growth', growth);
app.get('/api/health', (req, res) => res.json({ status: 'OK' }));
"""
GROWTH_JS = """\
const router = require('express').Router();
router.get('/channels', async (req, res) => {});
router.post('/staking/:id/claim', async (req, res) => {});
router.use('/shield', require('./shield'));
module.exports = router;
"""
SHIELD_JS = "const router = require('express').Router();\nrouter.get(`/policies`, h);\n"
CONTENT_JS = "const router = require('express').Router();\nrouter.delete('/:id', h);\n"


def _without_line(text: str, start: str) -> str:
    return "".join(line for line in text.splitlines(True) if not line.startswith(start))


def _backend(tmp_path: Path, docs: str = API_DOCS) -> Path:
    return write_repo(
        tmp_path,
        api_docs=docs,
        files={
            "backend/server.js": SERVER_JS,
            "backend/api/growth.js": GROWTH_JS,
            "backend/api/shield.js": SHIELD_JS,
            "backend/api/content.js": CONTENT_JS,
            "backend/node_modules/x/index.js": "app.get('/api/growth/vendored', h);",
        },
    )


def test_the_contract_has_seven_operations() -> None:
    assert [str(op) for op in openapi_operations(CONTRACT)] == [
        "DELETE /api/content/{}",
        "GET /api/content",
        "GET /api/content/{}",
        "GET /api/health",
        "POST /api/content",
        "POST /api/content/upload-image",
        "PUT /api/content/{}",
    ]


def test_documented_operations_resolve_against_the_stated_base_url() -> None:
    found = documented_operations(GROWTH_DOCS + "\nAlso `PUT /api/content/:id/` and GET /x?y=1.\n")
    assert Operation("GET", "/api/growth/staking/channels") in found
    assert Operation("PUT", "/api/content/{}") in found
    assert Operation("GET", "/x") in found
    assert Operation("GET", "/api/growth/channels") not in found


def test_routes_are_read_through_mounts_nested_routers_and_imports(tmp_path: Path) -> None:
    routes = [str(op) for op in declared_routes(_backend(tmp_path))]
    assert routes == [
        "DELETE /api/content/{}",
        "GET /api/growth/channels",
        "GET /api/growth/shield/policies",
        "GET /api/health",
        "POST /api/growth/staking/{}/claim",
    ]
    assert len(growth_hub_routes(tmp_path)) == 3


def test_docs_covering_the_contract_and_the_routes_pass(tmp_path: Path) -> None:
    docs = API_DOCS + "\n".join(
        [
            "GET /api/growth/channels",
            "POST /api/growth/staking/:id/claim",
            "GET /api/growth/shield/policies",
        ]
    )
    assert check_api_docs(_backend(tmp_path, docs), CONTRACT) == (7, 3)


def test_docs_missing_operations_name_each_of_them(tmp_path: Path) -> None:
    repo = _backend(tmp_path, GROWTH_DOCS.replace("/staking/channels", "/channels"))
    with pytest.raises(EvidenceMissing) as caught:
        check_api_docs(repo, CONTRACT)
    message = str(caught.value)
    assert message.startswith("docs/API_DOCS.md does not document 9 operation(s) the API serves:")
    assert "GET /api/health" in message
    assert "POST /api/growth/staking/{}/claim" in message
    assert "GET /api/growth/channels" not in message


def test_missing_docs_are_a_failure(tmp_path: Path) -> None:
    with pytest.raises(EvidenceMissing, match=r"^docs/API_DOCS.md does not exist in "):
        check_api_docs(write_repo(tmp_path, api_docs=None), CONTRACT)


def test_release_notes_with_a_rollback_section_pass(tmp_path: Path) -> None:
    repo = write_repo(tmp_path, notes={"2025-10-29": NOTES_WITH_ROLLBACK})
    check_rollback_plan(repo, "2025-10-29", "--release-date")


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        ({}, r"^docs/releases/2025-10-29.md does not exist in .* \(release date 2025-10-29 from"),
        (
            {"2025-10-29": NOTES_WITHOUT_ROLLBACK},
            r"^docs/releases/2025-10-29.md has no rollback section",
        ),
        (
            {"2025-10-29": _without_line(NOTES_WITH_ROLLBACK, "- Supabase:")},
            r"^the rollback section of docs/releases/2025-10-29.md does not say how to roll back"
            r" the database \(runbook section 5",
        ),
        (  # the frontend is named only after the section ended
            {"2025-10-29": _without_line(NOTES_WITH_ROLLBACK, "- Frontend:") + "## Frontend\n"},
            r"does not say how to roll back the frontend",
        ),
    ],
    ids=["no-notes", "no-section", "no-database", "section-ends-at-next-heading"],
)
def test_release_notes_without_a_complete_rollback_plan_fail(
    tmp_path: Path, notes: dict[str, str], message: str
) -> None:
    repo = write_repo(tmp_path, notes=notes)
    with pytest.raises(EvidenceMissing, match=message):
        check_rollback_plan(repo, "2025-10-29", "--release-date")
