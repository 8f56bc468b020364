"""Finding a form's fields the way a user does (``promorang_gate.browser.form``), on small static
pages in a real Chromium: each way of finding a field, the row-of-buttons choice, the file input
behind a button, and a failure that says which ways were tried."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promorang_gate.browser import NO_CHROMIUM, OFFLINE_FLAGS, find_chromium
from promorang_gate.browser.form import (
    BUTTON_ROW,
    BY_LABEL,
    FILE_BUTTON,
    LABEL_ABOVE,
    PLACEHOLDER,
    FieldNotFound,
    choose_file,
    choose_option,
    fill_field,
)

pytestmark = pytest.mark.slow

ORIGIN = "http://127.0.0.1:9"
WAIT_S = 2.0
# Writes what the page got into <output id=got>, so a test reads it as the page saw it.
REPORT = """<output id="got"></output><script>
const report = (text) => { document.getElementById('got').textContent = text; };
</script>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = find_chromium(os.environ)
    if chromium is None:
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=[*OFFLINE_FLAGS, "--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page_of(browser: Any) -> Iterator[Any]:
    """Serves one HTML page from a local origin and returns the loaded page."""
    context = browser.new_context()

    def load(body: str) -> Any:
        page = context.new_page()
        html = f"<!doctype html><html><body>{body}{REPORT}</body></html>"
        page.route(
            f"{ORIGIN}/form", lambda route: route.fulfill(body=html, content_type="text/html")
        )
        page.goto(f"{ORIGIN}/form")
        return page

    try:
        yield load
    finally:
        context.close()


def test_the_accessible_label_comes_first(page_of: Any) -> None:
    # The text "Title" is also above an untied box: the tied one wins, as on a healthy build.
    page = page_of(
        '<form><label for="real">Title</label><input id="decoy"><input id="real"></form>'
    )
    assert fill_field(page, "Title", "typed", WAIT_S) == BY_LABEL
    assert page.locator("#real").input_value() == "typed"
    assert page.locator("#decoy").input_value() == ""


@pytest.mark.parametrize(
    "body",
    [
        '<div><label class="block">Content Title</label><input type="text"></div>',
        "<div><p>Content Title</p><div><textarea></textarea></div></div>",
    ],
    ids=["untied-label", "label-like-text"],
)
def test_an_untied_label_names_the_next_box(page_of: Any, body: str) -> None:
    page = page_of(f'<form><input type="text" id="before">{body}<input id="after"></form>')
    assert fill_field(page, "Content Title", "typed", WAIT_S) == LABEL_ABOVE
    field = page.locator("input[type=text]:not(#before), textarea").first
    assert field.input_value() == "typed"
    assert page.locator("#before").input_value() == page.locator("#after").input_value() == ""


def test_a_placeholder_names_a_box_no_label_names(page_of: Any) -> None:
    page = page_of('<form><input placeholder="Describe your content..."></form>')
    assert fill_field(page, "Describe your content...", "typed", WAIT_S) == PLACEHOLDER
    assert page.locator("input").input_value() == "typed"


def test_a_field_rendered_late_is_waited_for(page_of: Any) -> None:
    page = page_of(
        "<div id=root></div><script>setTimeout(() => {document.getElementById('root')"
        ".innerHTML = '<label>Total Shares Available</label><input type=number>';}, 300)</script>"
    )
    assert fill_field(page, "Total Shares Available", "321", WAIT_S) == LABEL_ABOVE
    assert page.locator("input").input_value() == "321"


ROW = """<form><label>Platform</label><div>
{buttons}</div><label>Content Title</label><input type="text"></form>
<script>document.querySelectorAll('button').forEach((b) =>
  b.addEventListener('click', () => report(b.dataset.value)));</script>"""


def test_a_row_of_buttons_is_a_choice_made_by_clicking_the_value(page_of: Any) -> None:
    buttons = "".join(
        f'<button type="button" data-value="{p}"><svg width="8" height="8"></svg>'
        f'<span style="text-transform: capitalize">{p}</span></button>'
        for p in ("instagram", "twitter", "tiktok")
    )
    page = page_of(ROW.format(buttons=buttons))
    assert choose_option(page, "Platform", "tiktok", WAIT_S) == BUTTON_ROW
    assert page.locator("#got").text_content() == "tiktok"
    assert page.locator("input").input_value() == "", "the box after the row is no option"


def test_a_row_without_the_value_says_which_buttons_it_offers(page_of: Any) -> None:
    buttons = '<button type="button" data-value="youtube">youtube</button>'
    page = page_of(ROW.format(buttons=buttons))
    with pytest.raises(FieldNotFound) as missing:
        choose_option(page, "Platform", "tiktok", 0.2)
    assert missing.value.tried == [
        f"{BY_LABEL} (none)",
        f'{LABEL_ABOVE} or {BUTTON_ROW} ("Platform" offers the buttons ["youtube"])',
    ]


@pytest.mark.parametrize(
    ("body", "how"),
    [
        (
            '<label for="p">Platform</label><select id="p"><option>x</option>'
            "<option>tiktok</option></select>",
            BY_LABEL,
        ),
        (
            "<label>Platform</label><select><option>x</option><option>tiktok</option></select>",
            LABEL_ABOVE,
        ),
    ],
    ids=["tied", "untied"],
)
def test_a_select_is_chosen_by_its_option(page_of: Any, body: str, how: str) -> None:
    page = page_of(f"<form>{body}</form>")
    assert choose_option(page, "Platform", "tiktok", WAIT_S) == how
    assert page.locator("select").input_value() == "tiktok"


FILE_REPORT = 'onchange="report(this.files[0].name)"'


@pytest.mark.parametrize(
    ("body", "label", "how"),
    [
        (
            f'<label for="f">Image</label><input id="f" type="file" {FILE_REPORT}>',
            "Image",
            BY_LABEL,
        ),
        (
            f'<label>Media</label><input type="file" style="display:none" {FILE_REPORT}>',
            "Media",
            LABEL_ABOVE,
        ),
        # A button that switches the form to its upload mode, which renders a hidden input.
        (
            '<button type="button" id="mode">Upload File</button><script>'
            "document.getElementById('mode').addEventListener('click', (e) =>"
            " e.target.insertAdjacentHTML('afterend', '<div><input type=file"
            " style=display:none onchange=report(this.files[0].name)></div>'));</script>",
            "Upload File",
            FILE_BUTTON,
        ),
        # A drop zone's button that opens the file chooser of an input elsewhere on the page.
        (
            f'<input id="f" type="file" style="display:none" {FILE_REPORT}>'
            '<button type="button" onclick="document.getElementById(\'f\').click()">'
            "Choose Files</button>",
            "Choose Files",
            FILE_BUTTON,
        ),
    ],
    ids=["tied", "untied", "revealed-by-button", "chooser-of-button"],
)
def test_a_file_is_chosen(page_of: Any, tmp_path: Path, body: str, label: str, how: str) -> None:
    image = tmp_path / "chosen.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    page = page_of(f"<form>{body}</form>")
    assert choose_file(page, label, image, WAIT_S) == how
    assert page.locator("#got").text_content() == "chosen.png"


def test_a_field_no_way_finds_says_which_ways_were_tried(page_of: Any) -> None:
    page = page_of(
        '<form><label>Share Price</label><input type="checkbox"><input placeholder="Price"></form>'
    )
    with pytest.raises(FieldNotFound) as missing:
        fill_field(page, "Share Price", "0.3", 0.2)
    assert missing.value.tried == [
        f"{BY_LABEL} (none)",
        f'{LABEL_ABOVE} ("Share Price" is followed by <input type=checkbox>)',
        f"{PLACEHOLDER} (none)",
    ]
    assert str(missing.value).startswith(f"tried {BY_LABEL} (none); {LABEL_ABOVE} (")
    with pytest.raises(FieldNotFound) as nothing:
        fill_field(page, "Gem Funding Amount", "1", 0.2)
    assert f'{LABEL_ABOVE} (no text "Gem Funding Amount" on the page)' in nothing.value.tried
