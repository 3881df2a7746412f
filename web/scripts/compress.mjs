// Gzip the built files once, at build time, next to the originals (name.js → name.js.gz), so
// `mitalk serve` can send a compressed copy to browsers that accept gzip without compressing on
// every request. Only text types worth it; files that would not shrink are left alone.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, extname } from "node:path";
import { gzipSync, constants } from "node:zlib";

const ROOT = new URL("../dist/", import.meta.url).pathname;
const TYPES = new Set([".js", ".css", ".html", ".svg", ".json", ".webmanifest", ".txt"]);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

let before = 0;
let after = 0;
for (const path of files(ROOT)) {
  if (!TYPES.has(extname(path))) continue;
  const data = readFileSync(path);
  const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  if (gz.length >= data.length * 0.9) continue;
  writeFileSync(`${path}.gz`, gz);
  before += data.length;
  after += gz.length;
}
console.log(`compress: ${(before / 1024).toFixed(1)} KiB of text → ${(after / 1024).toFixed(1)} KiB gzipped`);
