// Allure 3 (the npm package `allure`, pinned in package.json) as the project renders it:
// `promorang-gate report` (or `npx allure generate reports/allure-results`) from the repository
// root. The tree follows the runbook: environment (parentSuite) → checklist (feature) → item
// (story), where each item's verdict sits next to the tests that verify it.
// A plain object (what `defineConfig` of the package returns): importing the package would
// start its command line.
import { readFileSync } from "node:fs";

// The categories the gate also writes into the results (for Allure 2): one file, stable names.
// Inside a category, results are grouped by environment and checklist, not by their messages:
// a message can hold a run id or a whole contract report, and would never group across runs.
const categories = JSON.parse(
  readFileSync(new URL("./src/promorang_gate/allure_categories.json", import.meta.url), "utf-8"),
).map((category) => ({
  ...category,
  groupBy: category.name.startsWith("Gate verdict")
    ? [{ label: "parentSuite" }]
    : [{ label: "parentSuite" }, { label: "feature" }],
  groupByMessage: false,
}));

// `promorang-gate report --single-file` sets it: one self-contained index.html to mail or attach.
const singleFile = process.env.PROMORANG_REPORT_SINGLE_FILE === "1";

export default {
  name: "promorang-gate",
  output: "./reports/allure-report",
  // One line per run, kept across runs: the Trend charts and each test's history read it
  // (`promorang-gate report --history FILE` points elsewhere, e.g. a CI cache).
  historyPath: process.env.PROMORANG_REPORT_HISTORY || "./reports/history.jsonl",
  historyLimit: 50,
  categories,
  plugins: {
    awesome: {
      options: {
        reportName: "promorang-gate",
        singleFile,
        groupBy: ["parentSuite", "feature", "story"],
      },
    },
  },
};
