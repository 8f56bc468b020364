"""The requests the contract sends: known-good bodies, the generated valid cases (drawn once
and kept), the deterministic invalid cases, and the run tag on whatever a request may create.

The tag goes where the case does not make the body invalid, so that whatever a lax build stores
is still provably the run's: a content title, or its description where the case replaces the
title; an upload's file name, and the PNG's own bytes (a ``tEXt`` chunk), which is all a stored
object carries where the case replaces the file name and the API names the object itself."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET

from promorang_gate.cleanup.tags import object_tag, tagged_png, tagged_title

__all__ = [
    "KNOWN_GOOD",
    "PNG_1X1",
    "generate_invalid",
    "has_invalid",
    "has_valid",
    "invalid_cases",
    "known_good",
    "restore_invalid",
    "restore_valid",
    "stored_invalid",
    "stored_valid",
    "tag",
    "tag_invalid",
    "valid_cases",
]

PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6300010000050001a5f645400000000049454e44ae426082"
    )
).decode()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HTML = base64.b64encode(b"<!doctype html><script>alert(document.cookie)</script>").decode()
SVG = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>').decode()
UPLOAD = "POST /api/content/upload-image"
CREATE = "POST /api/content"
UPDATE = "PUT /api/content/{id}"
JSON = "application/json"

# A valid request per write, sent before the drawn ones so success answers are checked too.
KNOWN_GOOD: Mapping[str, Mapping[str, Any]] = {
    UPLOAD: {"fileType": "image/png", "fileData": PNG_1X1, "fileName": "contract.png"},
    CREATE: {
        "platform": "instagram",
        "title": "contract probe",
        "platform_url": "https://instagram.com/p/gate-contract",
        "total_shares": 100,
        "share_price": 0.1,
    },
}
# Invalid input the coverage phase does not spell out (CONTRACT §6.10): a public bucket must not
# take HTML or script-carrying SVG, and values the database cannot hold must be refused, not 500.
EXPLICIT_INVALID: Mapping[str, tuple[tuple[str, Mapping[str, Any]], ...]] = {
    UPLOAD: (
        ("fileType text/html", {"fileType": "text/html", "fileData": HTML, "fileName": "p.html"}),
        # A file name, as the HTML case has: the name carries the run tag (an SVG has no PNG
        # chunk to carry it), so a build that stores the SVG stores it under a tagged name.
        (
            "fileType image/svg+xml",
            {"fileType": "image/svg+xml", "fileData": SVG, "fileName": "p.svg"},
        ),
    ),
    CREATE: (
        ("fractional total_shares", {**KNOWN_GOOD[CREATE], "total_shares": 1.5}),
        ("huge total_shares", {**KNOWN_GOOD[CREATE], "total_shares": 10**12}),
        ("share_price 1000", {**KNOWN_GOOD[CREATE], "share_price": 1000}),
        ("huge share_price", {**KNOWN_GOOD[CREATE], "share_price": 1e9}),
    ),
    UPDATE: (
        ("fractional total_shares", {"total_shares": 1.5}),
        ("share_price 1000", {"share_price": 1000}),
    ),
}
# Undocumented methods: the transport refuses them before sending, so they are not sent at all.
NOT_SENT = frozenset({"unspecified_http_method"})


def known_good(operation: Any) -> Any | None:
    """The known-good case of ``operation``, or None when it has none."""
    if operation.label == "GET /api/content":
        return operation.Case(query={})
    body = KNOWN_GOOD.get(operation.label)
    if body is None:
        return None
    return operation.Case(body=dict(body), media_type="application/json")


def invalid_cases(schema: Any, operation: Any, target_id: str | None) -> Iterator[tuple[Any, str]]:
    """Every invalid case of ``operation``, the same on every run: the coverage phase's negative
    cases (wrong type in each body field, missing fields, bounds, content types) and the explicit
    ones above. Body cases of an update are aimed at ``target_id``, an item that exists."""
    for recipe in _coverage(schema, operation):
        case = recipe.case(operation)
        if target_id is not None and case.path_parameters and not recipe.on_path:
            case.path_parameters = {**case.path_parameters, "id": target_id}
        yield case, _describe(case, recipe.description)
    for what, body in EXPLICIT_INVALID.get(operation.label, ()):
        params = {"id": target_id} if target_id is not None and "{id}" in operation.path else {}
        case = operation.Case(path_parameters=params, body=dict(body), media_type=JSON)
        yield case, what


def has_invalid(schema: Any, operation: Any) -> bool:
    """Whether ``operation``'s coverage cases are already kept for this process."""
    return operation.label in _COVERAGE.get(id(schema), (None, {}))[1]


def generate_invalid(schema: Any, operation: Any) -> bool:
    """Generate ``operation``'s coverage cases now (kept for the process), not at first use;
    False when they were already there."""
    known = has_invalid(schema, operation)
    _coverage(schema, operation)
    return not known


# --- generated valid cases ----------------------------------------------------------------------

# (id(schema), operation label, examples) -> (schema, the drawn cases as data); the schema is held
# here, as in _COVERAGE. Drawing them is a pure function of the strategy and these settings
# (derandomized, no database), so they are drawn once and sent from the list on every run: the
# same cases a run driven by hypothesis would send, without paying hypothesis' engine each run.
_VALID: dict[tuple[int, str, int], tuple[Any, tuple[_Recipe, ...]]] = {}


def has_valid(schema: Any, operation: Any, examples: int) -> bool:
    """Whether this process has ``operation``'s valid cases already (drawn or restored)."""
    return (id(schema), operation.label, examples) in _VALID


def valid_cases(schema: Any, operation: Any, examples: int) -> list[Any]:
    """``operation``'s generated valid cases (at most ``examples``), new copies for this run."""
    key = (id(schema), operation.label, examples)
    if key not in _VALID:
        _VALID[key] = (schema, tuple(_draw_valid(operation, examples)))
    return [recipe.case(operation) for recipe in _VALID[key][1]]


def _draw_valid(operation: Any, examples: int) -> list[_Recipe]:
    from hypothesis import HealthCheck, Phase, given, settings

    drawn: list[_Recipe] = []

    @settings(
        max_examples=max(examples, 1),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy())
    def draw(case: Any) -> None:
        fields = {name: _copied(getattr(case, name)) for name in _FIELDS}
        drawn.append(_Recipe(method=case.method, fields=fields, description="", on_path=False))

    draw()
    return drawn


def stored_valid(schema: Any, operation: Any, examples: int) -> list[Any] | None:
    """The drawn valid cases as JSON that ``restore_valid`` gives back equal (None: not so)."""
    valid_cases(schema, operation, examples)
    return _stored(_VALID[(id(schema), operation.label, examples)][1])


def restore_valid(schema: Any, operation: Any, examples: int, stored: Any) -> bool:
    """Keep ``stored`` (from ``stored_valid``) as the drawn valid cases for this process."""
    recipes = _restored(stored)
    if recipes is None:
        return False
    _VALID.setdefault((id(schema), operation.label, examples), (schema, recipes))
    return True


# --- the coverage cases as JSON (pytest's cache keeps them between runs) ----------------------


def stored_invalid(schema: Any, operation: Any) -> list[Any] | None:
    """``operation``'s coverage cases as JSON that ``restore_invalid`` gives back equal; None
    when a value would not come back as it was (then they are not stored)."""
    return _stored(_coverage(schema, operation))


def restore_invalid(schema: Any, operation: Any, stored: Any) -> bool:
    """Keep ``stored`` (from ``stored_invalid``) as ``operation``'s coverage cases for this
    process; False, and nothing kept, when it is not what ``stored_invalid`` writes."""
    recipes = _restored(stored)
    if recipes is None:
        return False
    _, by_label = _COVERAGE.setdefault(id(schema), (schema, {}))
    by_label.setdefault(operation.label, recipes)
    return True


def _stored(recipes: tuple[_Recipe, ...]) -> list[Any] | None:
    try:
        stored = json.loads(json.dumps([_recipe_json(r) for r in recipes], allow_nan=False))
        if _restored(stored) != recipes:
            return None
    except (TypeError, ValueError, KeyError):
        return None
    return list(stored)


def _restored(stored: Any) -> tuple[_Recipe, ...] | None:
    try:
        return tuple(_recipe_from_json(item) for item in stored)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _recipe_json(recipe: _Recipe) -> dict[str, Any]:
    return {
        "method": recipe.method,
        "description": recipe.description,
        "on_path": recipe.on_path,
        "fields": {name: _value_json(value) for name, value in recipe.fields.items()},
    }


def _value_json(value: Any) -> dict[str, Any]:
    if value is NOT_SET:
        return {"not_set": True}
    if isinstance(value, CaseInsensitiveDict):
        return {"headers": dict(value)}
    return {"value": value}


def _recipe_from_json(item: Any) -> _Recipe:
    fields = item["fields"]
    if set(fields) != set(_FIELDS) or not isinstance(item["method"], str):
        raise ValueError("not a stored coverage case")
    return _Recipe(
        method=item["method"],
        fields={name: _value_from_json(fields[name]) for name in _FIELDS},
        description=str(item["description"]),
        on_path=item["on_path"] is True,
    )


def _value_from_json(stored: Any) -> Any:
    (kind, value), *rest = stored.items()
    if rest or kind not in {"not_set", "headers", "value"}:
        raise ValueError("not a stored value")
    if kind == "not_set":
        return NOT_SET
    return CaseInsensitiveDict(value) if kind == "headers" else value


@dataclass(frozen=True)
class _Recipe:
    """One coverage case as data: each use builds a new case from copies (a run tags its
    bodies), so the cases are generated once per process and schema, not once per run."""

    method: str
    fields: Mapping[str, Any]
    description: str
    on_path: bool

    def case(self, operation: Any) -> Any:
        return operation.Case(method=self.method, **_copied(dict(self.fields)))


# id(schema) -> (schema, operation label -> recipes); the schema is held here, so no other
# object can take its id. Schemathesis' coverage phase is a tenth of an
# in-process gate run's CPU, and the project's tests make a hundred runs per worker process.
_COVERAGE: dict[int, tuple[Any, dict[str, tuple[_Recipe, ...]]]] = {}
_FIELDS = (
    "path_parameters",
    "headers",
    "cookies",
    "query",
    "body",
    "media_type",
    "multipart_content_types",
)


def _copied(value: Any) -> Any:
    """A deep copy in which schemathesis' "no body" stays itself (it is compared by identity)."""
    return copy.deepcopy(value, {id(NOT_SET): NOT_SET})


def _coverage(schema: Any, operation: Any) -> tuple[_Recipe, ...]:
    _, by_label = _COVERAGE.setdefault(id(schema), (schema, {}))
    if operation.label not in by_label:
        by_label[operation.label] = tuple(_recipes(schema, operation))
    return by_label[operation.label]


def _recipes(schema: Any, operation: Any) -> Iterator[_Recipe]:
    generation = schema.config.generation_for(operation=operation)
    for case in schema.iter_coverage_cases(
        operation, generation_modes=[GenerationMode.NEGATIVE], generation_config=generation
    ):
        data = case.meta.phase.data
        if str(getattr(data, "scenario", "")) in NOT_SENT:
            continue
        fields = {name: _copied(getattr(case, name)) for name in _FIELDS}
        yield _Recipe(
            method=case.method,
            fields=fields,
            description=str(getattr(data, "description", "invalid input")),
            on_path=str(getattr(data, "parameter_location", "")).lower().endswith("path"),
        )


def _describe(case: Any, description: str) -> str:
    """The coverage description with the value that makes the case invalid."""
    name = description.split(":", 1)[0] if ":" in description else None
    body = case.body
    if isinstance(body, dict) and name in body:
        return f"{description}: {_short(body[name])}"
    if name is None and not isinstance(body, dict):
        return f"{description}: body {_short(body)}"
    return description


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def tag(case: Any, run_id: str) -> None:
    """Tag what a valid request may create, so the janitor finds it after a killed run."""
    if not (case.method.upper() in {"POST", "PUT"} and isinstance(case.body, dict)):
        return
    if case.operation.label == UPLOAD:
        name = case.body.get("fileName")
        suffix = name if isinstance(name, str) else ""
        case.body["fileName"] = f"{object_tag(run_id)}-{suffix}"
        _tag_png(case.body, run_id)
        return
    if "title" in case.body or case.operation.label == CREATE:
        title = case.body.get("title")
        case.body["title"] = tagged_title(title if isinstance(title, str) else "", run_id)


def tag_invalid(case: Any, run_id: str) -> None:
    """Tag an invalid request without making it valid: only values that are already strings,
    and a PNG's bytes. Where the case replaces the field that carries the tag (a title or file
    name that is no string, or empty), the tag goes into a field the case leaves alone: the
    description, the image's bytes."""
    body = case.body
    if not isinstance(body, dict):
        return
    if case.operation.label == UPLOAD:
        if isinstance(body.get("fileName"), str):
            body["fileName"] = f"{object_tag(run_id)}-{body['fileName']}"
        _tag_png(body, run_id)
    elif isinstance(body.get("title"), str) and body["title"]:
        body["title"] = tagged_title(body["title"], run_id)
    elif isinstance(body.get("description"), str):
        body["description"] = tagged_title(body["description"], run_id)


def _tag_png(body: dict[str, Any], run_id: str) -> None:
    """A ``fileData`` holding a PNG (base64) becomes a PNG whose bytes carry the run tag; any
    other value (no string, empty, not a PNG) is what the case tests and stays."""
    data = body.get("fileData")
    if not isinstance(data, str) or not data:
        return
    try:
        decoded = base64.b64decode(data, validate=True)
    except ValueError:
        return
    if decoded.startswith(PNG_SIGNATURE):
        body["fileData"] = base64.b64encode(tagged_png(object_tag(run_id))).decode()
