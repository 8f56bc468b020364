"""The machinery of the browser checks (pytest-playwright driving a system Chromium).

- ``launch``: which Chromium to launch, and the flags that keep it off the network;
- ``form``: a form's fields found the way a user finds them (accessible label, the label above,
  placeholder, a row of buttons, a button in front of a file input);
- ``navigation``: opening the page a check is about (a server error there fails at once);
- ``watch``: what a page did (its ``/api/`` calls and where they went, its console), with every
  host outside the environment answered locally;
- ``artifacts``: pytest-playwright's failure screenshot and trace, redacted, in the Allure result.

Nothing here imports Playwright at module level: the objects come from pytest-playwright's
fixtures.
"""

from __future__ import annotations

from promorang_gate.browser.artifacts import attach_failure_artifacts, redact_zip
from promorang_gate.browser.form import FieldNotFound, choose_file, choose_option, fill_field
from promorang_gate.browser.launch import (
    CHROMIUM_ENV,
    NO_CHROMIUM,
    OFFLINE_FLAGS,
    check_chromium_setting,
    find_chromium,
    launch_args,
)
from promorang_gate.browser.navigation import PageNotServed, open_page
from promorang_gate.browser.watch import ApiCall, PageWatch, sign_in_script

__all__ = [
    "CHROMIUM_ENV",
    "NO_CHROMIUM",
    "OFFLINE_FLAGS",
    "ApiCall",
    "FieldNotFound",
    "PageNotServed",
    "PageWatch",
    "attach_failure_artifacts",
    "check_chromium_setting",
    "choose_file",
    "choose_option",
    "fill_field",
    "find_chromium",
    "launch_args",
    "open_page",
    "redact_zip",
    "sign_in_script",
]
