// `promorang-gate report` renders with this script rather than `allure generate`: the same
// Allure 3 core and configuration (allurerc.mjs), plus the configured quality gate evaluated
// before the report is written, so its Quality Gates tab carries the gate's verdict (generate
// leaves the tab empty). Exit 0 when the quality gate passes, 1 when the report was written and
// the quality gate failed (the gate file says BLOCK), 2 when nothing could be rendered.
//
//   node scripts/allure-render.mjs --config allurerc.mjs --output DIR RESULTS_DIR
//   node scripts/allure-render.mjs --config allurerc.mjs --history-only --run-id ID RESULTS_DIR
//   node scripts/allure-render.mjs ... --history-only --when-told ... RESULTS_DIR
//
// --history-only appends the run's point to the history (historyPath of the config) without
// rendering: each gate run does it, so the Trend grows with every run, not only with every
// render. A point is named after its gate run: rendering a run whose point is already in the
// history shows it once (as the current run) and appends nothing.
//
// --when-told: load Allure and the configuration, then wait for the line "append" on standard
// input before reading the results; at the end of input without it, exit 0 having written
// nothing. A gate run starts the script with its tests and tells it once its results are
// complete, so Allure's load is not waited for after the last test.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exit } from "node:process";
import { parseArgs } from "node:util";
import {
  AllureReport,
  filterFailedQualityGateResults,
  readConfig,
  stringifyQualityGateResults,
} from "@allurereport/core";

const { values, positionals } = parseArgs({
  options: {
    config: { type: "string" },
    output: { type: "string" },
    "history-only": { type: "boolean" },
    "run-id": { type: "string" },
    "when-told": { type: "boolean" },
  },
  allowPositionals: true,
});
const historyOnly = values["history-only"] === true;
if (
  positionals.length !== 1 ||
  !values.config ||
  (historyOnly ? !values["run-id"] : !values.output)
) {
  console.error(
    "usage: allure-render.mjs --config FILE (--output DIR | --history-only --run-id ID) RESULTS",
  );
  exit(2);
}

/** Whether the gate run said "append" before closing standard input (--when-told). */
const told = async () => {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  return input.trim() === "append";
};

/** The history point's id of a gate run (UUID-shaped, derived from the run id). */
const runUuid = (runId) => {
  const hex = createHash("sha256").update(`promorang-gate run ${runId}`).digest("hex");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)]
    .join("-");
};

/** The gate runs whose gate files are next to the results (PROMORANG_GATE_REPORTS). */
const judgedRuns = () => {
  const directory = process.env.PROMORANG_GATE_REPORTS || "./reports";
  if (!existsSync(directory)) return [];
  const runs = new Set();
  for (const name of readdirSync(directory).filter((n) => /^gate-.+\.json$/.test(n))) {
    try {
      const runId = JSON.parse(readFileSync(join(directory, name), "utf-8")).run_id;
      if (runId) runs.add(String(runId));
    } catch {
      // an unreadable gate file names no run; the quality gate reports it
    }
  }
  return [...runs];
};

const scratch = mkdtempSync(join(tmpdir(), "promorang-allure-"));
let code = 0;
try {
  const output = historyOnly ? join(scratch, "report") : values.output;
  const config = await readConfig(process.cwd(), values.config, { output });
  if (values["when-told"] && !(await told())) {
    rmSync(scratch, { recursive: true, force: true });
    exit(0); // the run reached no verdict: nothing to append
  }
  let reportUuid;
  if (historyOnly) {
    config.plugins = [];
    reportUuid = runUuid(values["run-id"]);
  } else if (config.historyPath) {
    const runs = new Set(judgedRuns().map(runUuid));
    const lines = existsSync(config.historyPath)
      ? readFileSync(config.historyPath, "utf-8").split("\n").filter((line) => line.trim())
      : [];
    const known = (line) => {
      try {
        return runs.has(JSON.parse(line).uuid);
      } catch {
        return false;
      }
    };
    if (lines.some(known)) {
      // Already in the history (the gate run appended it): shown once, appended never again.
      const earlier = join(scratch, "history.jsonl");
      writeFileSync(earlier, lines.filter((line) => !known(line)).map((l) => `${l}\n`).join(""));
      config.historyPath = earlier;
      config.appendHistory = false;
    } else if (runs.size === 1) {
      reportUuid = [...runs][0];
    }
  }
  const report = new AllureReport(config);
  if (reportUuid) report.reportUuid = reportUuid;
  await report.start();
  await report.readDirectory(positionals[0]);
  let failed = [];
  if (report.hasQualityGate && !historyOnly) {
    const trs = await report.store.allTestResults({ includeRetries: false });
    const { results } = await report.validate({ trs });
    report.realtimeDispatcher.sendQualityGateResults(results);
    failed = filterFailedQualityGateResults(results);
    if (failed.length) console.error(stringifyQualityGateResults(results));
  }
  await report.done();
  code = failed.length ? 1 : 0;
} catch (error) {
  console.error(`allure-render: ${error?.message ?? error}`);
  code = 2;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
exit(code);
