"""The frontend as it ships: the entry module of a page and every chunk it can load.

A built single-page app is rarely one file: the Create form of the platform's newest build sits
in a chunk the entry loads lazily (``import("./CreateMoment-….js")``), which a check reading
the entry alone never sees. :func:`load_chunks` follows, from the page's module scripts and
``<link rel="modulepreload">`` hints, every static import, re-export, dynamic ``import()`` and
Vite preload list to the chunks of the same origin, breadth first, up to a cap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

__all__ = ["MAX_CHUNKS", "Bundle", "chunk_references", "entry_modules", "load_chunks"]

#: At most this many modules are fetched for one page (a build splits into tens, not hundreds).
MAX_CHUNKS = 60

_SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)
_LINK = re.compile(r"<link\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_JS = r"""[^"'`\s()]+\.m?js(?:\?[^"'`\s()]*)?"""
_STATIC = re.compile(rf"""\b(?:import|export)\b[^"'`;]*?\bfrom\s*["'`]({_JS})["'`]""")
_BARE = re.compile(rf"""\bimport\s*["'`]({_JS})["'`]""")
_DYNAMIC = re.compile(rf"""\bimport\s*\(\s*["'`]({_JS})["'`]\s*\)""")
# Vite's __vitePreload(() => import(...), ["assets/x.js", ...]) and __vite__mapDeps lists.
_PRELOAD_LIST = re.compile(rf"""["'`]((?:\.{{0,2}}/)?assets/{_JS})["'`]""")


def _attrs(tag: str) -> dict[str, str]:
    return {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in
            _ATTR.finditer(tag)}  # fmt: skip


def entry_modules(html: str) -> list[str]:
    """The module scripts' ``src`` and the ``modulepreload`` hrefs of a page, in order."""
    found: list[str] = []
    for match in _SCRIPT.finditer(html):
        attrs = _attrs(match.group(1))
        if attrs.get("type", "").lower() == "module" and attrs.get("src"):
            found.append(attrs["src"])
    for match in _LINK.finditer(html):
        attrs = _attrs(match.group(1))
        if "modulepreload" in attrs.get("rel", "").lower().split() and attrs.get("href"):
            found.append(attrs["href"])
    return list(dict.fromkeys(found))


def chunk_references(code: str) -> list[str]:
    """What a module imports: static, re-exported, dynamic and Vite-preloaded specifiers that
    name a ``.js`` file (bare package names are resolved at build time, never fetched)."""
    refs = [m.group(1) for pattern in (_STATIC, _BARE, _DYNAMIC) for m in pattern.finditer(code)]
    refs += [m.group(1) for m in _PRELOAD_LIST.finditer(code)]
    prefixes = ("./", "../", "/", "assets/", "http://", "https://")
    return [r for r in dict.fromkeys(refs) if r.startswith(prefixes)]


@dataclass
class Bundle:
    """The modules a page can load: URL -> code, in the order they were found."""

    modules: dict[str, str] = field(default_factory=dict)
    #: Modules referenced but not loaded: (URL, why), e.g. a 404 or the cap.
    missing: list[tuple[str, str]] = field(default_factory=list)

    @property
    def code(self) -> str:
        return "\n".join(self.modules.values())

    def holding(self, text: str) -> list[str]:
        return [url for url, code in self.modules.items() if text in code]


def _resolve(base: str, ref: str, page_url: str) -> str:
    if ref.startswith("assets/"):  # Vite's preload lists are relative to the site's root
        return urljoin(page_url, "/" + ref)
    return urljoin(base, ref)


def load_chunks(
    page_url: str, html: str, fetch: Callable[[str], tuple[int, str]], cap: int = MAX_CHUNKS
) -> Bundle:
    """Every same-origin module the page at ``page_url`` (its ``html``) can load; ``fetch(url)``
    answers (status, text)."""
    origin = urlsplit(page_url)[:2]
    queue = [urljoin(page_url, src) for src in entry_modules(html)]
    bundle = Bundle()
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        key = url.split("#", 1)[0]
        if key in seen:
            continue
        seen.add(key)
        if urlsplit(key)[:2] != origin:
            bundle.missing.append((key, "another origin: not followed"))
            continue
        if len(bundle.modules) >= cap:
            bundle.missing.append((key, f"beyond the cap of {cap} modules"))
            continue
        status, text = fetch(key)
        if status != 200:
            bundle.missing.append((key, f"answered {status}"))
            continue
        bundle.modules[key] = text
        queue += [_resolve(key, ref, page_url) for ref in chunk_references(text)]
    return bundle
