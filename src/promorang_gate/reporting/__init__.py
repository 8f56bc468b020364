"""What the gate reports: the terminal table and gate files (``reports``), the checklist pages,
JUnit, the CI step summary, the Allure results and their rendering, and the latency chart.

Written once, on the controller, at the end of a run that reached a verdict.
"""

from __future__ import annotations

# Modules, not names: importing the package must not load them all (heavy imports stay lazy).
__all__ = [
    "allure_history",
    "allure_results",
    "allure_support",
    "allure_tests",
    "checklist_markdown",
    "ci_summary",
    "gate_json",
    "junit",
    "latency_chart",
    "report_render",
    "reports",
    "terminal",
]
