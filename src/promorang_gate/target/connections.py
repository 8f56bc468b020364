"""Hosts compared as a connection sees them: the addresses a name resolves to and the port,
whatever the spelling (``localhost`` or ``127.0.0.1``, ``http`` or ``https``, a default port
written out or not). A writable env whose URL reaches a protected env's host is refused at start
and again before its first write (a name may resolve elsewhere by then).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

__all__ = [
    "RESOLVE_TIMEOUT_S",
    "ProtectedHostRefused",
    "endpoints",
    "protect",
    "recheck_before_write",
]

#: A name that does not resolve within this is compared by its spelling only.
RESOLVE_TIMEOUT_S = 2.0
#: How long a name that was slow before is waited for: a quick answer (a name now resolving
#: elsewhere, before a write) is still seen, a resolver that hangs on it costs little.
SLOW_NAME_WAIT_S = 0.25
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_LOOPBACK = "loopback"


class ProtectedHostRefused(AssertionError):
    """A write of a writable env would reach a protected env's host: stopped before sending."""


def _address(text: str) -> str:
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return text
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return _LOOPBACK if ip.is_loopback or ip.is_unspecified else str(ip)


def _resolve(host: str) -> set[str]:
    """The non-public addresses ``host`` resolves to. A public address is left out: names on one
    CDN share addresses and are told apart by the Host header, so sharing one proves nothing;
    a private or loopback address is one server."""

    return _LOOKUPS.addresses(host)


def _lookup(host: str) -> set[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    found = {str(info[4][0]) for info in infos}
    return {_address(a) for a in found if not ipaddress.ip_address(a.split("%")[0]).is_global}


class _Lookups:
    """Name lookups of this process, each in a thread of its own, waited for at most
    RESOLVE_TIMEOUT_S. A resolver that hangs on one name (no DNS answer: the lookup ends only
    after the resolver's own timeout, 5 s and more) made every comparison wait the whole
    timeout again, and its stuck threads held up lookups of other names queued behind them.
    Now a name's lookup in flight is joined, not repeated; a name that did not answer in time
    is waited for only SLOW_NAME_WAIT_S while it stays slow, then compared by the addresses its
    last finished lookup gave (by its spelling only when none finished), as after a timeout
    before. Other names are not held up by it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[set[str]]] = {}
        self._slow: dict[str, set[str]] = {}  # slow name -> what its last finished lookup gave

    def addresses(self, host: str) -> set[str]:
        future, slow = self._start(host)
        try:
            found = future.result(
                timeout=min(SLOW_NAME_WAIT_S, RESOLVE_TIMEOUT_S) if slow else RESOLVE_TIMEOUT_S
            )
        except FutureTimeout:
            with self._lock:
                return set(self._slow.setdefault(host, set()))
        except (OSError, UnicodeError, ValueError):
            return set()  # no address: a slow name stays slow (its next failure may hang again)
        with self._lock:
            self._slow.pop(host, None)  # it answered in time
        return found

    def _start(self, host: str) -> tuple[Future[set[str]], bool]:
        with self._lock:
            slow = host in self._slow
            future = self._inflight.get(host)
            if future is None:
                future = self._inflight[host] = Future()
                threading.Thread(
                    target=self._run, args=(host, future), name="gate-resolve", daemon=True
                ).start()
        return future, slow

    def _run(self, host: str, future: Future[set[str]]) -> None:
        found: set[str] = set()
        try:
            found = _lookup(host)
        except BaseException as exc:  # whatever it is, the caller sees it; the name is freed
            future.set_exception(exc)
        else:
            future.set_result(found)
        finally:
            with self._lock:
                self._inflight.pop(host, None)
                if host in self._slow:
                    self._slow[host] = found


_LOOKUPS = _Lookups()


def endpoints(url: object, *, resolve: bool = True) -> set[tuple[str, int]]:
    """(address, port) pairs a connection to ``url`` may reach. The name and every address it
    resolves to; loopback forms are one address. A URL on a default port stands for both
    default ports (the scheme is ignored: ``http://x`` and ``https://x`` are the same host)."""
    try:
        parts = urlsplit(str(url))
        host = (parts.hostname or "").rstrip(".").lower()
        explicit = parts.port
    except ValueError:
        return set()
    if not host:
        return set()
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    ports = {explicit} if explicit is not None and explicit != default else {80, 443}
    if explicit is None and default is None:
        ports = set()
    addresses = {_address(host)}
    if host == "localhost" or host.endswith(".localhost"):
        addresses.add(_LOOPBACK)
    elif resolve and addresses == {host}:
        addresses |= _resolve(host)
    return {(a, p) for a in addresses for p in ports}


_lock = threading.Lock()
# (address, port) -> protected env, and the protected URLs (re-resolved before a first write).
_protected_urls: dict[str, str] = {}
_checked: set[str] = set()


def protect(urls: Mapping[str, str]) -> None:
    """Remember the protected envs' URLs (url -> env) for the checks before writes (replacing
    what an earlier configuration in this process remembered)."""
    with _lock:
        _protected_urls.clear()
        _protected_urls.update(urls)
        _checked.clear()


def owner_of(urls: Iterable[object], protected: Mapping[str, str]) -> tuple[str, str] | None:
    """(url, protected env) of the first of ``urls`` reaching a protected URL's host."""
    reach: dict[tuple[str, int], str] = {}
    for purl, env in protected.items():
        for point in endpoints(purl):
            reach.setdefault(point, env)
    for url in urls:
        for point in endpoints(url):
            if point in reach:
                return str(url), reach[point]
    return None


def recheck_before_write(url: str, env: str) -> None:
    """Before the first write to a host (per process): it must not reach a protected host now."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    with _lock:
        if origin in _checked or not _protected_urls:
            return
        protected = {u: e for u, e in _protected_urls.items() if e != env}
    clash = owner_of([origin], protected)
    if clash is not None:
        raise ProtectedHostRefused(
            f"{env}: a write to {origin} refused before sending: it reaches a host of the"
            f" protected env '{clash[1]}'"
        )
    with _lock:
        _checked.add(origin)
