"""Durations as people type them (``30m``, ``2h``, ``7d``, ``3600``) and as the gate prints them."""

from __future__ import annotations

import math
import re

from promorang_gate.errors import ConfigError

__all__ = ["format_duration", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_SECONDS = 3650 * 86400.0


def parse_duration(text: str, what: str = "duration") -> float:
    """``30m``, ``2h``, ``1d``, ``3600`` (seconds) -> seconds; ConfigError naming ``what``."""
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else math.nan
    if not math.isfinite(seconds):
        raise ConfigError(f"{what} {text!r}: expected a duration such as 30m, 2h, 7d or 3600")
    if seconds > MAX_SECONDS:
        raise ConfigError(f"{what} {text!r}: at most 3650d")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
