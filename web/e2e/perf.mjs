// Web figures for bench/bench_web.py: cold first loads of the app and map pans at z15.
// Usage: node e2e/perf.mjs <base-url> <email> <password> [runs=5] [pans=10]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [BASE, EMAIL, PASSWORD, RUNS = "5", PANS = "10"] = process.argv.slice(2);
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

async function withBrowser(options, fn) {
  const profile = mkdtempSync(join(tmpdir(), "lfs-perf-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ARGS,
    viewport: { width: 1440, height: 900 },
    ...options,
  });
  try {
    return await fn(ctx.pages()[0] ?? (await ctx.newPage()));
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** One cold load (fresh profile: empty cache) of /login until the form is usable. */
async function coldLoad(extraHTTPHeaders) {
  return withBrowser({ extraHTTPHeaders }, async (page) => {
    const t0 = Date.now();
    await page.goto(`${BASE}/login`, { waitUntil: "load" });
    await page.getByLabel("Adresse e-mail").waitFor();
    const usable = Date.now() - t0;
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource");
      return {
        ttfb: n.responseStart,
        dcl: n.domContentLoadedEventEnd,
        load: n.loadEventEnd,
        kb: (n.transferSize + res.reduce((s, r) => s + (r.transferSize || 0), 0)) / 1024,
      };
    });
    return { usable_ms: usable, ...nav };
  });
}

async function pans(layers, count) {
  return withBrowser({}, async (page) => {
    page.setDefaultTimeout(60_000);
    await page.goto(`${BASE}/login`);
    await page.getByLabel("Adresse e-mail").fill(EMAIL);
    await page.getByLabel("Mot de passe").fill(PASSWORD);
    await page.getByRole("button", { name: "Se connecter" }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/login"));
    await page.goto(`${BASE}/map?lat=45.9630&lon=4.6510&z=15&layers=${layers}`);
    await page.waitForFunction(() => window.__lfsMap?.loaded() && window.__lfsMap.areTilesLoaded(), null, { polling: 100 });
    const out = [];
    const moves = [[700, 0], [0, 450], [-700, 0], [0, -450]];
    for (let i = 0; i < count; i++) {
      const [dx, dy] = moves[i % moves.length].map((v) => v * (1 + Math.floor(i / 4)));
      // Measured inside the page: polling from the test (CDP) would slow the page it measures.
      const ms = await page.evaluate(async ([dx, dy]) => {
        const m = window.__lfsMap;
        performance.clearMeasures("lfs:pan-to-parcels");
        const idle = new Promise((resolve) => m.once("idle", resolve));
        m.panBy([dx, dy], { duration: 0 });
        await idle;
        return Math.round(performance.getEntriesByName("lfs:pan-to-parcels")[0]?.duration ?? -1);
      }, [dx, dy]);
      out.push(ms);
    }
    return out;
  });
}

const runs = Number(RUNS);
const result = { gzip: [], identity: [] };
for (let i = 0; i < runs; i++) {
  result.gzip.push(await coldLoad({}));
  result.identity.push(await coldLoad({ "Accept-Encoding": "identity" }));
}
result.pans_all_layers = await pans("communes,env_zones,urban_zones,parcels,substations,leads", Number(PANS));
result.pans_parcels_only = await pans("parcels", Number(PANS));
process.stdout.write(JSON.stringify(result) + "\n");
