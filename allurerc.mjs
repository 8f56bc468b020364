// Allure 3 (the npm package `allure`, pinned in package.json) as the project renders it:
// `promorang-gate report` (or `npx allure generate reports/allure-results`) from the repository
// root. The tree follows the runbook: environment (parentSuite) → checklist (feature) → item
// (story), where each item's verdict sits next to the tests that verify it.
// A plain object (what `defineConfig` of the package returns): importing the package would
// start its command line.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

// The categories the gate also writes into the results (for Allure 2): one file, stable names.
// Inside a category, results are grouped by environment and checklist, not by their messages:
// a message can hold a run id or a whole contract report, and would never group across runs.
const categories = JSON.parse(
  readFileSync(new URL("./src/promorang_gate/reporting/allure_categories.json", import.meta.url), "utf-8"),
).map((category) => ({
  ...category,
  groupBy: category.name.startsWith("Gate verdict")
    ? [{ label: "parentSuite" }]
    : [{ label: "parentSuite" }, { label: "feature" }],
  groupByMessage: false,
}));

// Allure's quality gate calls Iterator.prototype.toArray, which Node.js has from version 22 on;
// this file is loaded by every allure command, `allure quality-gate` included.
const iteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
if (typeof iteratorPrototype.toArray !== "function") {
  Object.defineProperty(iteratorPrototype, "toArray", {
    value() {
      return Array.from(this);
    },
    configurable: true,
    writable: true,
  });
}

// One self-contained index.html unless `promorang-gate report --multi-file` asks for a site:
// a report opened from disk (file://) cannot load a site's data files, and shows a spinner.
const singleFile = process.env.PROMORANG_REPORT_SINGLE_FILE !== "0";

// The gate's own quality gate rule: the verdict is the gate file's, not a success rate. It reads
// every gate-<env>.json of the reports directory (PROMORANG_GATE_REPORTS, else ./reports) and
// fails unless each says ALLOW and the run left nothing behind; `allure quality-gate` then exits
// 1 on a block, and the report's Quality Gates tab carries the verdict.
export const gateVerdictRule = {
  rule: "promorangGateVerdict",
  message: ({ actual }) => `Gate verdict: ${[].concat(actual).join("; ")}`,
  successMessage: ({ actual }) => `Gate verdict: ${[].concat(actual).join("; ")}`,
  async validate({ trs = [] }) {
    const directory = process.env.PROMORANG_GATE_REPORTS || "./reports";
    // The envs the rendered results judged (their "Gate verdict" results), else every file.
    const judged = trs
      .map((tr) => /^promorang-gate:(.+):verdict$/.exec(tr.fullName || ""))
      .filter(Boolean)
      .map((match) => `gate-${match[1]}.json`);
    const present = existsSync(directory)
      ? readdirSync(directory).filter((name) => /^gate-.+\.json$/.test(name))
      : [];
    const files = [...new Set(judged.length ? judged : present)].sort();
    if (files.length === 0) {
      return { success: false, actual: [`no gate file in ${directory}: BLOCK`], testResults: [] };
    }
    let success = true;
    const actual = files.map((name) => {
      let data;
      if (!present.includes(name)) {
        success = false;
        return `no ${name} in ${directory}: BLOCK`;
      }
      try {
        data = JSON.parse(readFileSync(join(directory, name), "utf-8"));
      } catch {
        success = false;
        return `${name} is unreadable: BLOCK`;
      }
      const verdict = String(data.verdict || "block").toUpperCase();
      const left = (data.leftovers?.not_removed || []).length > 0;
      const blockers = (data.blockers || []).map((b) => b.id);
      if (verdict !== "ALLOW" || left) success = false;
      const why = blockers.length ? ` (blockers: ${blockers.join(", ")})` : "";
      const leftNote = left ? " (the run left data it could not remove)" : "";
      return `${data.environment}: ${verdict} by gate ${data.gate?.name}${why}${leftNote}`;
    });
    return { success, actual, testResults: [] };
  },
};

// The verdict in the report's title, on the landing page: "promorang-gate · staging: BLOCK".
// From the gate files the report is rendered with (PROMORANG_GATE_REPORTS, else ./reports).
const verdictTitle = (() => {
  const directory = process.env.PROMORANG_GATE_REPORTS || "./reports";
  if (!existsSync(directory)) return "promorang-gate";
  const verdicts = readdirSync(directory)
    .filter((name) => /^gate-.+\.json$/.test(name))
    .sort()
    .map((name) => {
      try {
        const data = JSON.parse(readFileSync(join(directory, name), "utf-8"));
        const left = (data.leftovers?.not_removed || []).length > 0;
        const verdict = left ? "BLOCK" : String(data.verdict || "block").toUpperCase();
        return `${data.environment}: ${verdict}`;
      } catch {
        return `${name}: unreadable`;
      }
    });
  return verdicts.length ? `promorang-gate · ${verdicts.join(" · ")}` : "promorang-gate";
})();

export default {
  name: verdictTitle,
  output: "./reports/allure-report",
  // One line per run, kept across runs: the Trend charts and each test's history read it
  // (`promorang-gate report --history FILE` points elsewhere, e.g. a CI cache).
  historyPath: process.env.PROMORANG_REPORT_HISTORY || "./reports/history.jsonl",
  historyLimit: 50,
  categories,
  qualityGate: {
    rules: [{ id: "gate", promorangGateVerdict: true }],
    use: [gateVerdictRule],
  },
  plugins: {
    awesome: {
      options: {
        reportName: verdictTitle,
        singleFile,
        groupBy: ["parentSuite", "feature", "story"],
      },
    },
  },
};
