"""Finding a form's fields the way a user does: by the field's accessible label first; failing
that, by the label a sighted user reads above the box (a ``<label>`` tied to no input, or
label-like text, whose next form control in document order is the field), or by placeholder
text. A choice offered as a row of buttons is made by clicking the button of the value; a file
field may sit behind a button of that text, which opens a file chooser or reveals the input.

The accessible label comes first, so a form whose labels are tied to their inputs is found as
before; the other ways only find what that one did not. A lookup polls every way until its
deadline (the page may still be rendering); when none finds the field, the error says what each
way saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from playwright.sync_api import FileChooser, Locator, Page

__all__ = [
    "BUTTON_ROW",
    "BY_LABEL",
    "FILE_BUTTON",
    "LABEL_ABOVE",
    "PLACEHOLDER",
    "FieldNotFound",
    "choose_file",
    "choose_option",
    "fill_field",
]

Kind = Literal["text", "file", "choice"]

BY_LABEL = "its accessible label"
LABEL_ABOVE = "a label above it"
PLACEHOLDER = "its placeholder"
BUTTON_ROW = "a row of buttons under a label"
FILE_BUTTON = "a button in front of a file input"
POLL_MS = 100
# What the page script found carries this attribute, so that Playwright acts on that element.
MARK = "data-gate-found"

# In the page: label-like text (innermost elements whose whole text is the label, <label>s
# first), then what follows it in document order. A text or file field is the next form
# control, if of its kind; a choice is the next control if a select, or else the button of the
# value among the buttons before that control. Marks what it found, else says what it saw.
_BY_POSITION = """([wanted, kind, value, mark]) => {
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const text = norm(wanted);
  const CONTROL = 'input:not([type=hidden]):not([type=button]):not([type=submit])'
    + ':not([type=reset]):not([type=image]), select, textarea, [role=combobox], [role=listbox]';
  const BUTTON = 'button, [role=button], [role=radio]';
  const NOT_LABEL = 'option, script, style, ' + BUTTON + ', ' + CONTROL;
  const TEXT_TYPES = ['', 'text', 'email', 'url', 'number', 'search', 'tel', 'password'];
  const fits = (el) => {
    const tag = el.tagName.toLowerCase(), type = (el.getAttribute('type') || '').toLowerCase();
    if (kind === 'file') return tag === 'input' && type === 'file';
    if (kind === 'choice') return tag === 'select' || el.matches('[role=combobox], [role=listbox]');
    return tag === 'textarea' || (tag === 'input' && TEXT_TYPES.includes(type));
  };
  const shown = (el) => '<' + el.tagName.toLowerCase()
    + (el.getAttribute('type') ? ' type=' + el.getAttribute('type') : '') + '>';
  const before = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  const after = (el, selector) => Array.from(document.querySelectorAll(selector)).filter(
    (c) => c !== el && before(el, c));
  const found = (el, row) => { el.setAttribute(mark, ''); return {found: true, row}; };
  const labels = Array.from(document.body.querySelectorAll('*')).filter(
    (el) => !el.matches(NOT_LABEL) && norm(el.textContent) === text
      && !Array.from(el.children).some((c) => norm(c.textContent) === text));
  labels.sort((a, b) => (b.tagName === 'LABEL') - (a.tagName === 'LABEL'));
  if (!labels.length) return {note: 'no text ' + JSON.stringify(text) + ' on the page'};
  const seen = [];
  for (const label of labels) {
    const next = after(label, CONTROL)[0];
    const row = kind !== 'choice' ? []
      : after(label, BUTTON).filter((b) => !next || before(b, next));
    if (row.length) {
      const names = row.map((b) => norm(b.getAttribute('aria-label') || b.textContent));
      const index = names.findIndex((n) => n.toLowerCase() === value.toLowerCase());
      if (index >= 0) return found(row[index], true);
      seen.push('offers the buttons ' + JSON.stringify(names));
    } else if (next && fits(next)) {
      return found(next, false);
    } else {
      seen.push(next ? 'is followed by ' + shown(next) : 'is followed by no form control');
    }
  }
  return {note: JSON.stringify(text) + ' ' + seen.join('; ')};
}"""

# In the page: the first file input after the marked button (the one the click revealed).
_FILE_AFTER = """([mark]) => {
  const button = document.querySelector('[' + mark + ']');
  const input = button && Array.from(document.querySelectorAll('input[type=file]')).find(
    (c) => button.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (!input) return false;
  button.removeAttribute(mark);
  input.setAttribute(mark, '');
  return true;
}"""

_UNMARK = f"() => document.querySelectorAll('[{MARK}]').forEach((e) => e.removeAttribute('{MARK}'))"


class FieldNotFound(AssertionError):
    """No way a user finds a field found it; ``tried`` says what each way saw."""

    def __init__(self, label: str, tried: list[str]) -> None:
        self.label = label
        self.tried = tried
        super().__init__("tried " + "; ".join(tried))


@dataclass(frozen=True)
class _Found:
    locator: Locator
    how: str
    to_click: bool = False  # a button: the choice is made, or the file field reached, by a click


Way = Callable[[dict[str, str]], "_Found | None"]


def _one(
    locator: Locator, how: str, tried: dict[str, str], to_click: bool = False
) -> _Found | None:
    count = locator.count()
    if count == 1:
        return _Found(locator, how, to_click)
    tried[how] = f"{how} ({count} matches)" if count else f"{how} (none)"
    return None


def _by_position(
    page: Page, label: str, kind: Kind, value: str, tried: dict[str, str]
) -> _Found | None:
    page.evaluate(_UNMARK)
    seen: dict[str, Any] = page.evaluate(_BY_POSITION, [label, kind, value, MARK])
    if seen.get("found"):
        row = bool(seen.get("row"))
        return _Found(page.locator(f"[{MARK}]"), BUTTON_ROW if row else LABEL_ABOVE, row)
    how = f"{LABEL_ABOVE} or {BUTTON_ROW}" if kind == "choice" else LABEL_ABOVE
    tried[how] = f"{how} ({seen.get('note', 'nothing')})"
    return None


def _ways(page: Page, label: str, kind: Kind, value: str) -> list[Way]:
    ways: list[Way] = [
        lambda tried: _one(page.get_by_label(label, exact=True), BY_LABEL, tried),
        lambda tried: _by_position(page, label, kind, value, tried),
    ]
    if kind == "text":
        placeholder = page.get_by_placeholder(label, exact=True)
        ways.append(lambda tried: _one(placeholder, PLACEHOLDER, tried))
    if kind == "file":
        button = page.get_by_role("button", name=label, exact=True)
        ways.append(lambda tried: _one(button, FILE_BUTTON, tried, to_click=True))
    return ways


def _find(page: Page, label: str, kind: Kind, timeout_s: float, value: str = "") -> _Found:
    """The first way that finds the field, every way polled until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    tried: dict[str, str] = {}
    ways = _ways(page, label, kind, value)
    while True:
        for way in ways:
            found = way(tried)
            if found is not None:
                return found
        if time.monotonic() >= deadline:
            raise FieldNotFound(label, list(tried.values()))
        page.wait_for_timeout(POLL_MS)


def fill_field(page: Page, label: str, text: str, timeout_s: float) -> str:
    """Types ``text`` into the field ``label`` names; returns how it was found."""
    found = _find(page, label, "text", timeout_s)
    found.locator.fill(text)
    return found.how


def choose_option(page: Page, label: str, value: str, timeout_s: float) -> str:
    """Chooses ``value`` in the select ``label`` names, or clicks the button of that value in the
    row of buttons under the label; returns how it was found."""
    found = _find(page, label, "choice", timeout_s, value)
    if found.to_click:
        found.locator.click()
    else:
        found.locator.select_option(value)
    return found.how


def choose_file(page: Page, label: str, path: Path, timeout_s: float) -> str:
    """Chooses the file at ``path`` in the file field ``label`` names; returns how it was found."""
    found = _find(page, label, "file", timeout_s)
    if found.to_click:
        _choose_behind(page, found.locator, label, path, timeout_s)
    else:
        found.locator.set_input_files(path)
    return found.how


def _choose_behind(page: Page, button: Locator, label: str, path: Path, timeout_s: float) -> None:
    """Clicks the button; chooses the file in the chooser it opens, or in the file input that
    follows it once clicked (a button that switches a form to its upload mode)."""
    choosers: list[FileChooser] = []

    def opened(chooser: FileChooser) -> None:
        choosers.append(chooser)

    page.on("filechooser", opened)
    try:
        page.evaluate(_UNMARK)
        button.evaluate(f"(el) => el.setAttribute('{MARK}', '')")
        button.click()
        deadline = time.monotonic() + timeout_s
        while not choosers and not page.evaluate(_FILE_AFTER, [MARK]):
            if time.monotonic() >= deadline:
                seen = f"{FILE_BUTTON} (clicked: no file chooser, no file input after it)"
                raise FieldNotFound(label, [seen])
            page.wait_for_timeout(POLL_MS)
    finally:
        page.remove_listener("filechooser", opened)
    if choosers:
        choosers[0].set_files(path)
    else:
        page.locator(f"[{MARK}]").set_input_files(path)
