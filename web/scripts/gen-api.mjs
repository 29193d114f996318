// Regenerates src/api/schema.d.ts from the API's OpenAPI document.
// Usage: npm run gen:api            (spec from the Python app factory, no server needed)
//        npm run gen:api -- http://127.0.0.1:8000   (spec from a running server)
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const root = resolve(web, "..");
const out = join(web, "src/api/schema.d.ts");
const arg = process.argv[2];

let spec;
if (arg) {
  const res = await fetch(new URL("/api/openapi.json", arg));
  if (!res.ok) throw new Error(`GET openapi.json: ${res.status}`);
  spec = await res.text();
} else {
  const py = join(root, ".venv/bin/python");
  const code = [
    "import json",
    "from api.app import create_app",
    "from api.settings import Settings, resolve_dev_secrets",
    "s = resolve_dev_secrets(Settings(environment='test'))",
    "print(json.dumps(create_app(s).openapi()))",
  ].join("\n");
  spec = execFileSync(py, ["-c", code], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
}
const dir = mkdtempSync(join(tmpdir(), "lfs-openapi-"));
const specPath = join(dir, "openapi.json");
writeFileSync(specPath, spec);
execFileSync(join(web, "node_modules/.bin/openapi-typescript"), [specPath, "-o", out], {
  stdio: "inherit",
});
console.log(`wrote ${out}`);
