"""pytest-playwright's failure artifacts (``--screenshot only-on-failure``, ``--tracing
retain-on-failure``) attached to the Allure result. A trace records every request with its
headers, the creator's bearer token included, inside a zip where the run's last-line file
redaction cannot see it: each trace is redacted member by member before it is attached."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import pytest

from promorang_gate.secrets.redaction import Redactor

__all__ = ["attach_failure_artifacts", "redact_zip"]

# user_properties pytest-playwright puts on the teardown report -> (Allure name, extension)
ARTIFACTS = {
    "playwright_screenshot": ("screenshot", "png"),
    "playwright_trace": ("Playwright trace (npx playwright show-trace)", "zip"),
}


def redact_zip(path: Path, redactor: Redactor) -> bool:
    """Rewrite the zip at ``path`` with every member redacted; returns whether it changed."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    cleaned = [(info, redactor.redact_bytes(data)) for info, data in members]
    if all(a[1] == b[1] for a, b in zip(members, cleaned, strict=True)):
        return False
    fd, tmp = tempfile.mkstemp(prefix=".redacted-", suffix=".zip", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for info, data in cleaned:
                target.writestr(info, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def attach_failure_artifacts(item: pytest.Item, report: pytest.TestReport) -> None:
    """On the teardown report: attach (redacted) what pytest-playwright kept for the test."""
    if report.when != "teardown":
        return
    found = [(ARTIFACTS[k], str(v)) for k, v in report.user_properties if k in ARTIFACTS]
    if not found:
        return
    import allure

    from promorang_gate import state

    redactor = item.config.stash.get(state.REDACTOR, None) or Redactor()
    for (name, extension), raw in found:
        path = Path(item.config.invocation_params.dir, raw)
        if not path.is_file():
            continue
        if extension == "zip":
            redact_zip(path, redactor)
        else:
            redactor.redact_file(path)
        allure.attach.file(str(path), name=name, extension=extension)  # type: ignore[no-untyped-call]
