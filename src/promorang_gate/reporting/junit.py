"""JUnit XML by default: ``reports/junit-<env>.xml``, one file per selected env (a CI job shows
one check per environment), each test case carrying its checklist items, env and check as
properties (``gate_checklist``, ``gate_env``, ``gate_check``). ``--junitxml PATH`` keeps
pytest's own single file instead.

Like the gate files, the default files are written only by a run that reached a verdict: pytest
writes into a partial file in a scratch directory, which session end splits into the env files
(tests with no env count for every env) or drops.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from promorang_gate.files import write_atomic
from promorang_gate.secrets.redaction import Redactor

__all__ = ["DefaultJunit", "VerdictCase", "claim_default_junit", "split_by_env"]

#: The env's user property (``collection.ENV_PROPERTY``; not imported: collection sits above).
ENV_PROPERTY = "gate_env"


def _case_env(case: ElementTree.Element) -> str:
    for prop in case.iterfind("properties/property"):
        if prop.get("name") == ENV_PROPERTY:
            return prop.get("value") or ""
    return ""


def _recount(suite: ElementTree.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for kind, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(1 for c in cases if c.find(kind) is not None)))
    suite.set("time", f"{sum(float(c.get('time') or 0) for c in cases):.3f}")


@dataclass(frozen=True)
class VerdictCase:
    """The gate's own test case in an env's file: a JUnit viewer must not read a blocked gate
    (unverified or unsigned items fail no test) or a run that left things behind as green."""

    gate: str
    verdict: str
    problems: Sequence[str]  # blockers with their reasons, then what was not removed

    def element(self, env: str) -> ElementTree.Element:
        case = ElementTree.Element(
            "testcase", classname="promorang-gate", name=f"gate {self.gate} [{env}]", time="0"
        )
        if self.verdict != "allow" or self.problems:
            first = self.problems[0] if self.problems else ""
            failure = ElementTree.SubElement(
                case, "failure", message=f"{self.verdict.upper()}: {first}"[:300]
            )
            failure.text = "\n".join(self.problems)
        return case


def split_by_env(xml_text: str, env: str, verdict: VerdictCase | None = None) -> str:
    """pytest's JUnit XML keeping only the test cases of ``env`` (and those of no env), plus
    the gate's verdict for ``env`` as a test case of its own."""
    root = ElementTree.fromstring(xml_text)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        for case in suite.findall("testcase"):
            if _case_env(case) not in (env, ""):
                suite.remove(case)
    if verdict is not None and suites:
        suites[0].append(verdict.element(env))
    for suite in suites:
        _recount(suite)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


@dataclass(frozen=True)
class DefaultJunit:
    partial: Path
    reports_dir: Path
    envs: Sequence[str]

    def finish(
        self,
        verdicts: Mapping[str, VerdictCase] | None,
        redactor: Redactor,
        config: pytest.Config,
    ) -> list[Path]:
        """Write ``junit-<env>.xml`` from the partial file, with each env's verdict (only when
        the run reached one: ``verdicts`` None otherwise); remove the partial file."""
        written: list[Path] = []
        try:
            if verdicts is not None and self.partial.is_file():
                text = self.partial.read_text(encoding="utf-8")
                for env in self.envs:
                    path = self.reports_dir / f"junit-{env}.xml"
                    body = split_by_env(text, env, verdicts.get(env))
                    write_atomic(path, redactor.redact(body))
                    written.append(path)
            return written
        finally:
            self.partial.unlink(missing_ok=True)
            _name_in_summary(config, written)


def _name_in_summary(config: pytest.Config, written: Sequence[Path]) -> None:
    """pytest's junitxml ends the output with "generated xml file: <path>": it wrote the
    partial file, so let it name the files made of it (its ``logfile`` attribute)."""
    shown = ", ".join(map(str, written)) or "none (the run reached no verdict)"
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "LogXML" and hasattr(plugin, "logfile"):
            plugin.logfile = shown


def claim_default_junit(
    config: pytest.Config, reports_dir: Path, envs: Sequence[str], run_id: str
) -> DefaultJunit | None:
    """Point pytest's junitxml at a partial file unless ``--junitxml`` was given (or nothing
    runs); called from ``pytest_configure`` before junitxml's own, on the controller only. The
    partial file lives in a directory of its own, so a run without a verdict creates nothing in
    the reports directory."""
    if config.option.xmlpath or config.option.collectonly:
        return None
    scratch = Path(tempfile.mkdtemp(prefix="promorang-gate-junit-"))
    config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))
    partial = scratch / f"junit-{run_id}.xml"
    config.option.xmlpath = str(partial)
    return DefaultJunit(partial, reports_dir, list(envs))
