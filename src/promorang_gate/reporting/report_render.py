"""``promorang-gate report``: render ``reports/allure-results`` to ``reports/allure-report/``
with Allure 3 as the repository pins it (``package.json``/``package-lock.json`` at the root,
configured by ``allurerc.mjs``), run by ``scripts/allure-render.mjs`` (Allure's own core, plus
the configured quality gate: the gate file's verdict fills the report's Quality Gates tab). The
report is one self-contained ``index.html`` unless ``single_file`` is off, so it opens from
disk. The pinned package is installed with
``npm ci`` on first use (or when the installed version is not the locked one).

Exit codes (``Exit``): 0 rendered, 2 usage, 3 no results to render, 4 Node.js/npm missing or
too old, 5 installing or rendering failed. Every failure is one line on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from promorang_gate.errors import ConfigError

__all__ = ["MIN_NODE", "Exit", "RenderFailed", "ReportJob", "open_report", "render_report"]

MIN_NODE = 20
CONFIG = "allurerc.mjs"
RENDER_SCRIPT = "scripts/allure-render.mjs"
#: Read by allurerc.mjs's quality gate rule: where the gate files are.
GATE_REPORTS_VARIABLE = "PROMORANG_GATE_REPORTS"
#: allure-render.mjs's exit code for "written, and the quality gate failed".
QUALITY_GATE_FAILED = 1
#: Read by allurerc.mjs.
SINGLE_FILE_VARIABLE = "PROMORANG_REPORT_SINGLE_FILE"
HISTORY_VARIABLE = "PROMORANG_REPORT_HISTORY"
INSTALL_TIMEOUT_S = 600
RENDER_TIMEOUT_S = 600
# Written into each rendered report: the only directories a later render may empty.
RENDERED_MARK = ".promorang-gate-report"


class Exit(IntEnum):
    RENDERED = 0
    USAGE = 2
    NO_RESULTS = 3
    NO_NODE = 4
    FAILED = 5


class RenderFailed(Exception):
    """The report could not be rendered; ``code`` says why (an ``Exit``)."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReportJob:
    rootdir: Path
    results: Path
    output: Path
    history: Path | None = None
    single_file: bool = True
    open_after: bool = False


def _tools(environ: Mapping[str, str]) -> tuple[str, str, str]:
    path = environ.get("PATH", os.defpath)
    node, npm, npx = (shutil.which(name, path=path) for name in ("node", "npm", "npx"))
    if node is None or npm is None or npx is None:
        missing = ", ".join(n for n, p in (("node", node), ("npm", npm), ("npx", npx)) if not p)
        raise RenderFailed(
            Exit.NO_NODE,
            f"rendering the Allure report needs Node.js {MIN_NODE}+ with npm; not found: {missing}"
            " (install Node.js, e.g. apt-get install nodejs npm)",
        )
    version = _run([node, "--version"], None, environ, 30).stdout.strip()
    major = version.lstrip("v").split(".", 1)[0]
    if not major.isdigit() or int(major) < MIN_NODE:
        raise RenderFailed(
            Exit.NO_NODE, f"Node.js {version or '?'} is too old: Allure 3 needs {MIN_NODE}+"
        )
    return node, npm, npx


def _run(
    command: Sequence[str], cwd: Path | None, environ: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderFailed(
            Exit.FAILED, f"{' '.join(command[:3])} did not finish within {timeout:g}s"
        ) from None


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _locked_version(rootdir: Path) -> str | None:
    lock = json.loads((rootdir / "package-lock.json").read_text(encoding="utf-8"))
    version = (lock.get("packages") or {}).get("node_modules/allure", {}).get("version")
    return str(version) if version else None


def _installed_version(rootdir: Path) -> str | None:
    manifest = rootdir / "node_modules" / "allure" / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version") or "") or None


def ensure_installed(
    rootdir: Path,
    npm: str,
    environ: Mapping[str, str],
    notify: Callable[[str], None] | None = None,
) -> bool:
    """``npm ci`` when the pinned Allure is not what node_modules holds; True if it ran.
    ``notify`` hears, before the wait, what is being installed and its time limit."""
    locked = _locked_version(rootdir)
    if locked is not None and _installed_version(rootdir) == locked:
        return False
    if notify is not None:
        notify(
            f"installing the pinned Allure {locked or ''} with npm ci in {rootdir}"
            f" (about 10-60 s, at most {INSTALL_TIMEOUT_S} s)"
        )
    proc = _run([npm, "ci", "--no-audit", "--no-fund"], rootdir, environ, INSTALL_TIMEOUT_S)
    if proc.returncode != 0:
        raise RenderFailed(Exit.FAILED, f"npm ci in {rootdir} failed: {_last_line(proc)}")
    return True


def _check_job(job: ReportJob) -> None:
    for name in ("package.json", "package-lock.json", CONFIG, RENDER_SCRIPT):
        if not (job.rootdir / name).is_file():
            raise ConfigError(
                f"no {name} in {job.rootdir}: run from the promorang-gate repository or give"
                " --rootdir"
            )
    if not job.results.is_dir() or not any(job.results.glob("*-result.json")):
        raise RenderFailed(
            Exit.NO_RESULTS,
            f"no Allure results in {job.results}: run the gate first (pytest writes them there)"
            " or give --results DIR",
        )


def clear_output(output: Path) -> None:
    """Allure leaves files of an earlier report in place: start from an empty directory, but
    never empty one this command did not render (an index.html alone proves nothing: a site
    directory has one too)."""
    if not output.exists():
        return
    if not output.is_dir() or (any(output.iterdir()) and not (output / RENDERED_MARK).is_file()):
        raise ConfigError(
            f"--output {output}: exists and is no report rendered by promorang-gate;"
            " give another one"
        )
    shutil.rmtree(output)


def render_report(
    job: ReportJob, environ: Mapping[str, str], notify: Callable[[str], None]
) -> Path:
    """Render ``job.results`` into ``job.output``; the path of the report's index.html."""
    _check_job(job)
    node, npm, _ = _tools(environ)
    clear_output(job.output)
    if ensure_installed(job.rootdir, npm, environ, notify):
        notify(f"installed the pinned Allure {_locked_version(job.rootdir)} (npm ci)")
    env = dict(environ)
    env[SINGLE_FILE_VARIABLE] = "1" if job.single_file else "0"
    if job.history is not None:
        env[HISTORY_VARIABLE] = str(job.history)
    # The gate files next to the results (reports/gate-<env>.json) decide the quality gate.
    env.setdefault(GATE_REPORTS_VARIABLE, str(job.results.parent))
    command = [node, str(job.rootdir / RENDER_SCRIPT), str(job.results)]
    command += ["--config", str(job.rootdir / CONFIG), "--output", str(job.output)]
    proc = _run(command, job.rootdir, env, RENDER_TIMEOUT_S)
    index = job.output / "index.html"
    rendered = proc.returncode in (0, QUALITY_GATE_FAILED) and index.is_file()
    if not rendered:
        raise RenderFailed(Exit.FAILED, f"allure generate failed: {_last_line(proc)}")
    if proc.returncode == QUALITY_GATE_FAILED:
        notify(
            "the report's quality gate failed: the gate file says BLOCK (see its Quality Gates tab)"
        )
    (job.output / RENDERED_MARK).write_text("rendered by promorang-gate report\n", "utf-8")
    return index


def open_report(job: ReportJob, environ: Mapping[str, str]) -> int:
    """Serve the rendered report and open a browser (``allure open``) until Ctrl-C."""
    _, _, npx = _tools(environ)
    command = [npx, "--no", "--", "allure", "open", str(job.output)]
    return subprocess.run(command, cwd=job.rootdir, env=dict(environ), check=False).returncode
