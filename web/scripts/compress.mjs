// Writes a .gz beside each compressible file of dist/ (the API sends it to gzip clients as is).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants } from "node:zlib";

const dist = resolve(dirname(fileURLToPath(import.meta.url)), "../dist");
const EXT = /\.(js|css|html|svg|json|txt|map)$/;
let before = 0;
let after = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (EXT.test(name) && statSync(path).size >= 1024) {
      const raw = readFileSync(path);
      const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
      writeFileSync(`${path}.gz`, gz);
      before += raw.length;
      after += gz.length;
    }
  }
}
walk(dist);
console.log(`gzip: ${(before / 1024).toFixed(0)} kB → ${(after / 1024).toFixed(0)} kB`);
