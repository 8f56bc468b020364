"""One line per interval: elapsed / total, requests, error rate, P95, connections, the worst
item. Redrawn in place on a terminal (rich), plain lines otherwise (CI logs)."""

from __future__ import annotations

from typing import IO, Any

from promorang_gate.watch.items import ItemState

__all__ = ["Progress", "progress_line"]

_RANK = {"breach": 0, "no_data": 1, "warn": 2, "warming": 3, "ok": 4}


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def worst_item(states: list[ItemState]) -> str:
    # A non-gating item (webhooks without a deliveries table) is the worst only when it breaches.
    judged = [
        s for s in states if s.last is not None and (s.spec.gating or s.last.state == "breach")
    ]
    if not judged:
        return "—"
    worst = min(judged, key=lambda s: _RANK[s.last.state if s.last else "ok"])
    state = worst.last.state if worst.last else "ok"
    return f"{worst.spec.item_id} {state.replace('_', ' ')}"


def progress_line(elapsed_s: float, total_s: float, requests: int, states: list[ItemState]) -> str:
    by = {s.spec.measure: s.last for s in states}
    error, p95, conn = by.get("error_rate"), by.get("latency_p95"), by.get("connections")
    p95_text = "—" if p95 is None or p95.value is None else f"{p95.value:.3f}s"
    return (
        f"[{_clock(elapsed_s)} / {_clock(total_s)}] requests {requests}"
        f"  errors {_pct(error.value if error else None)}  P95 {p95_text}"
        f"  connections {_pct(conn.value if conn else None)}  worst: {worst_item(states)}"
    )


class Progress:
    """Prints each line; on a terminal rich's ``Live`` redraws the one line in place."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._live: Any = None
        if stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self._live = Live("", console=Console(file=stream), auto_refresh=False, transient=False)
            self._live.start()

    def update(self, line: str) -> None:
        if self._live is not None:
            self._live.update(line, refresh=True)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
