"""The reasons the smoke checks give where the platform's builds B and H fail them
(docs/platform-builds.md): what happened to the creator's item comes first, and a Create form
the browser check cannot fill names the label and the profile setting."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SMOKE = Path(__file__).resolve().parents[2] / "smoke"


@pytest.fixture(scope="module")
def support() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke_support_under_test", SMOKE / "_support.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


TITLE = "Security probe [gate gr20261206t231036-188ee5]"


def test_a_delete_that_removed_the_row_is_named_before_the_500_of_the_put(
    support: ModuleType,
) -> None:
    # Build H: another user's PUT answers 500 (its content_pieces table is missing), then the
    # DELETE answers 200 and deletes the creator's row.
    problems = support.ownership_problems(
        [("PUT", 500, False, TITLE), ("DELETE", 200, True, None)], TITLE
    )
    assert problems == [
        "DELETE /api/content/{id} of the creator's item with another user's token answered 200"
        " and deleted the item",
        "PUT /api/content/{id} of the creator's item with another user's token answered 500,"
        " expected 403 or 404",
    ]


def test_a_changed_title_is_named_once_and_a_refusal_is_no_problem(support: ModuleType) -> None:
    taken = "taken over [gate gr20261206t231036-188ee5]"
    problems = support.ownership_problems(
        [("PUT", 200, True, taken), ("DELETE", 404, False, taken)], TITLE
    )
    assert len(problems) == 1
    assert problems[0].startswith("PUT /api/content/{id}")
    assert f"answered 200 and changed its title to {taken!r}" in problems[0]
    refused = [("PUT", 403, False, TITLE), ("DELETE", 404, False, TITLE)]
    assert support.ownership_problems(refused, TITLE) == []
    assert support.ownership_problems([("PUT", 403, None, TITLE)], TITLE) == [
        "PUT /api/content/{id} of the creator's item with another user's token answered 403"
        " without success: false"
    ]


def test_a_field_no_label_finds_names_the_label_and_the_profile_setting(
    support: ModuleType,
) -> None:
    reason = support.form_field_problem(
        "/create",
        "image",
        "Media Content (Optional)",
        "choose a file in",
        "Locator.set_input_files: Timeout 10000ms exceeded.\nCall log:\n  - waiting for …",
    )
    assert reason == (
        "the Create form at /create has no field labelled 'Media Content (Optional)' to choose"
        " a file in (the profile's create_form.image names it):"
        " Locator.set_input_files: Timeout 10000ms exceeded."
    )
    button = support.form_field_problem("/create/moment", "submit", "Create Content", "click", "")
    assert button.startswith("the Create form at /create/moment has no button labelled")
    assert button.endswith(": no answer")
