"""The bundle check reads what the Create page can load: the entry and every chunk it imports,
statically or lazily, of the same origin and up to a cap."""

from __future__ import annotations

from promorang_gate.target.frontend_bundle import chunk_references, entry_modules, load_chunks

PAGE = "https://app.example/create/moment"
HTML = """<!doctype html><html><head>
<script type="module" crossorigin src="/assets/index-1.js"></script>
<link rel="modulepreload" crossorigin href="/assets/vendor-1.js">
<link rel="stylesheet" href="/assets/index-1.css">
<script src="https://cdn.example/analytics.js"></script>
</head><body><div id="root"></div></body></html>"""
MODULES = {
    "https://app.example/assets/index-1.js": (
        'import{r as React}from"./vendor-1.js";import "./polyfill-1.js";'
        'const CreateMoment=lazy(()=>__vitePreload(()=>import("./CreateMoment-1.js"),'
        '__vite__mapDeps([0,1])));const m=["assets/CreateMoment-1.js","assets/form-1.js"];'
        'export{x}from"./shared-1.js";import("https://cdn.example/other.js");'
    ),
    "https://app.example/assets/vendor-1.js": "export const r = 1;",
    "https://app.example/assets/polyfill-1.js": "",
    "https://app.example/assets/CreateMoment-1.js": (
        'import{f}from"./form-1.js";fetch(`${API}/api/content/upload-image`)'
    ),
    "https://app.example/assets/form-1.js": 'const API="http://localhost:3001";',
    "https://app.example/assets/shared-1.js": "export const x = 1;",
}


def _fetch(url: str) -> tuple[int, str]:
    return (200, MODULES[url]) if url in MODULES else (404, "")


def test_entry_modules_are_module_scripts_and_modulepreloads() -> None:
    assert entry_modules(HTML) == ["/assets/index-1.js", "/assets/vendor-1.js"]


def test_references_cover_static_dynamic_reexport_and_preload_lists() -> None:
    refs = chunk_references(MODULES["https://app.example/assets/index-1.js"])
    assert set(refs) == {
        "./vendor-1.js",
        "./polyfill-1.js",
        "./CreateMoment-1.js",
        "./shared-1.js",
        "assets/CreateMoment-1.js",
        "assets/form-1.js",
        "https://cdn.example/other.js",
    }


def test_every_chunk_of_the_page_is_loaded_and_other_origins_are_not() -> None:
    bundle = load_chunks(PAGE, HTML, _fetch)
    assert set(bundle.modules) == set(MODULES)
    assert bundle.holding("/api/content/upload-image") == [
        "https://app.example/assets/CreateMoment-1.js"
    ]
    assert "http://localhost:3001" in bundle.code
    assert ("https://cdn.example/other.js", "another origin: not followed") in bundle.missing


def test_the_cap_bounds_what_is_fetched() -> None:
    fetched: list[str] = []

    def fetch(url: str) -> tuple[int, str]:
        fetched.append(url)
        n = int(url.rsplit("-", 1)[1].split(".")[0])
        return 200, f'import("./chunk-{n + 1}.js")'

    html = '<script type="module" src="/assets/chunk-0.js"></script>'
    bundle = load_chunks("https://app.example/create", html, fetch, cap=5)
    assert len(bundle.modules) == len(fetched) == 5
    assert bundle.missing == [
        ("https://app.example/assets/chunk-5.js", "beyond the cap of 5 modules")
    ]


def test_a_missing_chunk_is_reported_not_fatal() -> None:
    html = '<script type="module" src="/assets/a.js"></script>'
    bundle = load_chunks(
        "https://app.example/create",
        html,
        lambda url: (200, 'import("./gone.js")') if url.endswith("/a.js") else (404, ""),
    )
    assert list(bundle.modules) == ["https://app.example/assets/a.js"]
    assert bundle.missing == [("https://app.example/assets/gone.js", "answered 404")]
