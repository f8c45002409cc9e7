// Prints the gzipped size of every built file and of the initial JavaScript (the entry and
// what index.html preloads); fails the build when the initial JS passes its budget.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 250;
const dist = new URL("../dist/", import.meta.url).pathname;
const index = readFileSync(join(dist, "index.html"), "utf8");
const initial = new Set(
  [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]),
);
const gz = (file) => gzipSync(readFileSync(join(dist, file))).length / 1024;
const rows = readdirSync(join(dist, "assets"))
  .map((name) => `assets/${name}`)
  .map((file) => ({ file, kb: gz(file), initial: initial.has(file) }))
  .sort((a, b) => b.kb - a.kb);
for (const r of rows) {
  console.log(`${r.kb.toFixed(1).padStart(8)} KB gz  ${r.initial ? "initial" : "lazy   "}  ${r.file}`);
}
const total = rows.filter((r) => r.initial && r.file.endsWith(".js")).reduce((s, r) => s + r.kb, 0);
console.log(`initial JS: ${total.toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (total > BUDGET_KB) {
  console.error(`initial JS is over its ${BUDGET_KB} KB budget`);
  process.exit(1);
}
