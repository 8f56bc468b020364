"""The Create form tested end to end, and the Growth Hub page, in a real browser (pytest-playwright
on the system's Chromium, signed in as the test creator): what a user sees at once and a text
search of the bundle cannot (CONTRACT §6.15-6.17) — a redirect to /content/undefined, a share
price the form replaced, API calls that fail behind the Growth Hub's demo data."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from _support import UUID_PATTERN, env_variable, form_field_problem, new_upload, object_path_of
from promorang_gate.browser import (
    FieldNotFound,
    PageWatch,
    choose_file,
    choose_option,
    fill_field,
    open_page,
    sign_in_script,
)
from promorang_gate.cleanup.tags import tagged_title
from promorang_gate.target.stored import StoredState

pytestmark = pytest.mark.create_flow

CONTENT_PATH = re.compile(r"^/content/([^/]+)$")
# The form is done when it has left /create for the item, or shows an error.
SETTLED = (
    "() => location.pathname.startsWith('/content/') || !!document.querySelector('[role=alert]')"
)
IMAGES_LOADED = "() => Array.from(document.images).every((image) => image.complete)"
DEMO_USER = "growth@promorang.com"  # the Growth Hub's built-in demo user (CONTRACT §7)


@dataclass(frozen=True)
class Typed:
    """What the check types into the Create form."""

    title: str
    platform: str
    platform_url: str
    description: str
    total_shares: int
    share_price: float


def typed_for(run_id: str) -> Typed:
    rng = random.Random()
    # Neither the form's defaults (100, 0.1) nor what an overridden price reads back as (0.5).
    price_cents = rng.choice([c for c in range(11, 100) if c != 50])
    return Typed(
        title=tagged_title("Browser Create check", run_id),
        platform="tiktok",
        platform_url=f"https://www.tiktok.com/@promorang-gate/video/{rng.randrange(10**9)}",
        description="Typed into the Create form by the promorang-gate browser check.",
        total_shares=rng.randrange(101, 1000),
        share_price=price_cents / 100,
    )


@pytest.fixture
def creator_page(gate_target: Any, new_context: Any) -> tuple[Page, PageWatch]:
    """A page signed in as the test creator, watched from before it loads."""
    token = gate_target.creator_token
    if not token:
        variable = env_variable(gate_target.name, "creator_token")
        pytest.skip(f"the browser checks sign in as the test creator: set {variable}")
    context = new_context()
    context.add_init_script(script=sign_in_script(gate_target.frontend_url, token))
    context.set_default_timeout(gate_target.request_timeout_s * 1000)
    watch = PageWatch(gate_target)
    watch.attach(context)
    return context.new_page(), watch


def _fill_create_form(page: Page, typed: Typed, image: Path, form: Any, timeout_s: float) -> None:
    """As a user finds the fields (browser/form.py): by the labels the profile's ``create_form.*``
    names (defaults the sandbox's), skipping those it declares absent."""

    def typing(text: str) -> Callable[[str], object]:
        return lambda label: fill_field(page, label, text, timeout_s)

    steps: list[tuple[str, str, Callable[[str], object]]] = [
        ("image", "choose a file in", lambda label: choose_file(page, label, image, timeout_s)),
        ("title", "type into", typing(typed.title)),
        (
            "platform",
            "choose an option of",
            lambda label: choose_option(page, label, typed.platform, timeout_s),
        ),
        ("platform_url", "type into", typing(typed.platform_url)),
        ("description", "type into", typing(typed.description)),
        ("total_shares", "type into", typing(str(typed.total_shares))),
        ("share_price", "type into", typing(str(typed.share_price))),
    ]
    for key, verb, act in steps:
        label = getattr(form, key)
        if label is None:  # declared absent: nothing to fill, nothing to compare
            continue
        try:
            act(label)
        except (PlaywrightError, FieldNotFound) as exc:
            raise AssertionError(
                form_field_problem(urlsplit(page.url).path, key, label, verb, str(exc))
            ) from None


def _register_created(watch: PageWatch, ledger: Any, target: Any) -> None:
    """Everything the form created goes to the ledger, whatever the page did next."""
    for upload in watch.calls_to("POST", "/api/content/upload-image"):
        image_url = str((upload.answer_json() or {}).get("imageUrl", ""))
        path = object_path_of(image_url, target.supabase_url, target.bucket)
        if path is not None:
            ledger.object(target.bucket, path)
    for create in watch.calls_to("POST", "/api/content"):
        content_id = str(((create.answer_json() or {}).get("content") or {}).get("id", ""))
        if UUID_PATTERN.match(content_id):
            ledger.content(content_id)


def _submit(page: Page, watch: PageWatch, ledger: Any, target: Any) -> None:
    submit = target.create_form.submit
    try:
        page.get_by_role("button", name=submit, exact=True).click()
    except PlaywrightError as exc:
        path = urlsplit(page.url).path
        raise AssertionError(
            form_field_problem(path, "submit", submit, "click", str(exc))
        ) from None
    try:
        page.wait_for_function(SETTLED)
    except PlaywrightTimeout:
        raise AssertionError(
            f"the Create form neither left /create nor showed an error within "
            f"{target.request_timeout_s:g} s; its API calls:\n{watch.describe()}"
        ) from None
    finally:
        _register_created(watch, ledger, target)


def _failed_calls(what: str, problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"API calls of {what} failed: {problems[0]}{more}\n" + "\n".join(problems)


@pytest.mark.checklist("create_flow.frontend_wired")
def test_create_form_creates_the_typed_item(
    gate_target: Any,
    gate_http: Any,
    gate_ledger: Any,
    gate_run_id: str,
    gate_stored: StoredState,
    creator_page: tuple[Page, PageWatch],
    tmp_path: Path,
) -> None:
    # The form writes: on an environment without writes this is not verified, nothing is sent.
    gate_http.transport_guard("POST", f"{gate_target.api_url}/api/content")
    page, watch = creator_page
    typed = typed_for(gate_run_id)
    upload = new_upload(gate_run_id, "browser")
    image = tmp_path / upload.file_name
    image.write_bytes(upload.data)

    open_page(page, f"{gate_target.frontend_url}{gate_target.create_path}")
    form = gate_target.create_form
    _fill_create_form(page, typed, image, form, gate_target.request_timeout_s)
    _submit(page, watch, gate_ledger, gate_target)

    path = urlsplit(page.url).path
    landed = CONTENT_PATH.match(path)
    content_id = landed.group(1) if landed else ""
    alerts = page.get_by_role("alert").all_inner_texts()
    created = [
        str(((c.answer_json() or {}).get("content") or {}).get("id", ""))
        for c in watch.calls_to("POST", "/api/content")
        if c.response is not None and c.response.status == 201
    ]
    # Past the submit, to what the user sees next: the page of the item just created.
    assert not (landed and created and content_id not in created), (
        f"after creating item {created[0]} the form navigated to {path}, a page for an id"
        f" that is not the created item's{f' showing {alerts}' if alerts else ''}"
    )
    assert UUID_PATTERN.match(content_id), (
        f"the Create form landed on {path}, not on /content/<id of the new item>"
        f"{f' showing {alerts}' if alerts else ''}; its API calls:\n{watch.describe()}"
    )
    expect(page.get_by_role("heading", name=typed.title)).to_be_visible()
    page.wait_for_function(IMAGES_LOADED)

    problems = watch.api_problems()
    assert not problems, _failed_calls("the Create flow", problems)
    uploads = watch.calls_to("POST", "/api/content/upload-image")
    creates = watch.calls_to("POST", "/api/content")
    assert len(uploads) == 1, f"the form sent {len(uploads)} uploads for one chosen image"
    assert len(creates) == 1, f"the form sent {len(creates)} create requests"
    # A field the profile declares absent was not typed: what the form sends for it is its own.
    expected = {k: v for k, v in asdict(typed).items() if k not in form.absent()}
    sent = creates[0].sent_json() or {}
    differs = {k: (sent.get(k), v) for k, v in expected.items() if sent.get(k) != v}
    assert not differs, f"the form sent other values than were typed, (sent, typed): {differs}"

    row = gate_stored.content_values(content_id)
    assert row is not None, f"item {content_id} is not stored ({gate_stored.through})"
    stored_all = {
        "title": row["title"],
        "platform": row["platform"],
        "description": row["description"],
        "total_shares": int(row["shares"]),
        # The API stores the price as engagement_rate = share_price / 10.
        "share_price": round(float(row["engagement_rate"] or 0) * 10, 4),
    }
    stored = {k: v for k, v in stored_all.items() if k in expected}
    differs = {k: (v, expected[k]) for k, v in stored.items() if v != expected[k]}
    assert not differs, f"the stored item differs from what was typed, (stored, typed): {differs}"
    image_url = (uploads[0].answer_json() or {}).get("imageUrl")
    assert row["media_url"] == image_url, (
        f"the stored item shows {row['media_url']!r}, not the uploaded image {image_url!r}"
    )
    assert not watch.console_errors, "the console logged errors:\n" + "\n".join(
        watch.console_errors
    )


@pytest.mark.health
@pytest.mark.checklist("health.frontend")
def test_growth_hub_loads_its_data_from_the_api(
    gate_target: Any, creator_page: tuple[Page, PageWatch]
) -> None:
    page, watch = creator_page
    open_page(page, f"{gate_target.frontend_url}/growth-hub")
    try:
        expect(page.get_by_role("heading", name="Growth Hub", exact=True).first).to_be_visible()
    except AssertionError:
        headings = page.get_by_role("heading", level=1).all_inner_texts()
        raise AssertionError(
            f"/growth-hub shows no 'Growth Hub' heading: the page at {urlsplit(page.url).path}"
            f" is titled {page.title()!r}, its first headings {headings[:3]}"
        ) from None
    page.wait_for_load_state("networkidle")
    watch.raise_if_writes_refused()

    assert watch.calls, "the Growth Hub made no API call: all it shows is built in"
    problems = watch.api_problems()
    assert not problems, _failed_calls("the Growth Hub (it shows demo data instead)", problems)
    assert DEMO_USER not in page.content(), "the Growth Hub shows its built-in demo data"
    assert not watch.console_errors, "the console logged errors:\n" + "\n".join(
        watch.console_errors
    )
