"""The state of a running sandbox: what a client needs to talk to it (architecture.md §5)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SandboxState:
    api_url: str
    frontend_url: str
    supabase_url: str
    anon_key: str
    service_role_key: str
    creator_id: str
    creator_token: str
    database_url: str
    admin_url: str
    admin_token: str
    bucket: str
    upload_prefix: str
    faults: list[str] = field(default_factory=list)
    pid: int = 0
    #: The reference application repository the sandbox runs (``app_repo.py``); "" when unknown.
    app_repo: str = ""
    # A second seeded user (not the creator), for the ownership checks.
    other_user_id: str = ""
    other_user_token: str = ""
    frontend_mode: str = "absolute"  # or "relative" (promorang_sandbox.frontend)
    #: The secret of the API's Stripe webhook endpoint (``webhooks.py``); "" in older files.
    stripe_webhook_secret: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SandboxState:
        raw: dict[str, Any] = json.loads(text)
        names = {f.name for f in fields(cls)}
        missing = set(REQUIRED_FIELDS) - set(raw)
        if missing:
            raise ValueError(f"sandbox state lacks {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in raw.items() if k in names})

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SandboxState:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a reader sees no file or the whole file."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-state-", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.to_json())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


#: The fields every state file must hold (URLs, keys, tokens, bucket): those without a default.
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(SandboxState) if f.default is MISSING and f.default_factory is MISSING
)
