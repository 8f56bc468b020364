// `promorang-gate report` renders with this script rather than `allure generate`: the same
// Allure 3 core and configuration (allurerc.mjs), plus the configured quality gate evaluated
// before the report is written, so its Quality Gates tab carries the gate's verdict (generate
// leaves the tab empty). Exit 0 when the quality gate passes, 1 when the report was written and
// the quality gate failed (the gate file says BLOCK), 2 when nothing could be rendered.
//
//   node scripts/allure-render.mjs --config allurerc.mjs --output DIR RESULTS_DIR
import { exit } from "node:process";
import { parseArgs } from "node:util";
import {
  AllureReport,
  filterFailedQualityGateResults,
  readConfig,
  stringifyQualityGateResults,
} from "@allurereport/core";

// Allure's quality gate calls Iterator.prototype.toArray, which Node.js has from version 22 on.
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

const { values, positionals } = parseArgs({
  options: { config: { type: "string" }, output: { type: "string" } },
  allowPositionals: true,
});
if (positionals.length !== 1 || !values.config || !values.output) {
  console.error("usage: allure-render.mjs --config FILE --output DIR RESULTS_DIR");
  exit(2);
}

try {
  const config = await readConfig(process.cwd(), values.config, { output: values.output });
  const report = new AllureReport(config);
  await report.start();
  await report.readDirectory(positionals[0]);
  let failed = [];
  if (report.hasQualityGate) {
    const trs = await report.store.allTestResults({ includeRetries: false });
    const { results } = await report.validate({ trs });
    report.realtimeDispatcher.sendQualityGateResults(results);
    failed = filterFailedQualityGateResults(results);
    if (failed.length) console.error(stringifyQualityGateResults(results));
  }
  await report.done();
  exit(failed.length ? 1 : 0);
} catch (error) {
  console.error(`allure-render: ${error?.message ?? error}`);
  exit(2);
}
