"""PostgreSQL errors as PostgREST and Storage API error replies."""

from __future__ import annotations

from typing import Any

import psycopg

# PostgREST's pgErrorStatus (v12 Error.hs / docs errors.rst), by SQLSTATE or class.
_REST_STATUS = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "42P01": 404,
    "42883": 404,
    "P0001": 400,
    "42P17": 500,
    "40001": 409,
    "54001": 500,
    "57014": 500,
}
_REST_CLASS_STATUS = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "23": 400,
    "22": 400,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
    "42": 400,
}


def sqlstate(exc: psycopg.Error) -> str:
    return exc.sqlstate or "XX000"


def rest_status(code: str, role: str, anon_role: str = "anon") -> int:
    """HTTP status PostgREST gives an error with SQLSTATE ``code`` for ``role``."""
    if code == "42501":
        return 401 if role == anon_role else 403
    if code in _REST_STATUS:
        return _REST_STATUS[code]
    if code.startswith("PT") and code[2:].isdigit():
        return int(code[2:])
    return _REST_CLASS_STATUS.get(code[:2], 400)


def rest_body(exc: psycopg.Error) -> dict[str, Any]:
    """``{code, details, hint, message}`` as PostgREST passes a Postgres error through."""
    diag = exc.diag
    return {
        "code": sqlstate(exc),
        "details": diag.message_detail,
        "hint": diag.message_hint,
        "message": diag.message_primary or str(exc),
    }


# (statusCode, code, error, message) of the Storage API error catalogue.
StorageErr = tuple[str, str, str, str]

NO_SUCH_BUCKET: StorageErr = ("404", "NoSuchBucket", "Bucket not found", "Bucket not found")
NO_SUCH_KEY: StorageErr = ("404", "NoSuchKey", "not_found", "Object not found")
KEY_EXISTS: StorageErr = ("409", "KeyAlreadyExists", "Duplicate", "The resource already exists")
BUCKET_EXISTS: StorageErr = (
    "409",
    "BucketAlreadyExists",
    "Duplicate",
    "The resource already exists",
)
RESOURCE_EXISTS: StorageErr = (
    "409",
    "ResourceAlreadyExists",
    "Duplicate",
    "The resource already exists",
)
TOO_LARGE: StorageErr = (
    "413",
    "EntityTooLarge",
    "Payload too large",
    "The object exceeded the maximum allowed size",
)


def access_denied(message: str) -> StorageErr:
    return ("403", "AccessDenied", "Unauthorized", message)


def invalid_request(message: str) -> StorageErr:
    return ("400", "InvalidRequest", "InvalidRequest", message)


def storage_error(exc: psycopg.Error, *, duplicate: StorageErr = RESOURCE_EXISTS) -> StorageErr:
    """Map a Postgres error to the Storage API catalogue (ST storage/database/errors.ts)."""
    code = sqlstate(exc)
    message = exc.diag.message_primary or str(exc)
    if code == "42501":
        if "row-level security" in message:
            return access_denied("new row violates row-level security policy")
        return access_denied(message)
    if code == "23505":
        return duplicate
    if code == "23503":
        return NO_SUCH_BUCKET
    if code.startswith("22"):
        return invalid_request(message)
    return ("500", "DatabaseError", "internal", message)
