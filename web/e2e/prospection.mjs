// End-to-end test of the "Prospection" page (the site finder, issue 17) in Debian's Chromium,
// against the real API on PostGIS with the demo data. Usage: node e2e/prospection.mjs <base-url>
// (users from E2E_USERS, password E2E_PASSWORD, as run.mjs). It creates searches, runs and three
// leads. Prints one JSON line of figures at the end; exits non-zero on the first failed step.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { harness } from "./common.mjs";

const { finish, openBrowser, BASE, USERS, ARTIFACTS, STEP_TIMEOUT, figures, profile, log, check, shot, axe, login, logout, apiCall } =
  harness("prospection", { fullPage: true });
const RUN_TIMEOUT = 60_000;

/** Click "Lancer la recherche" and wait until the page shows the run finished; the run's answer. */
async function launch(page) {
  const t0 = Date.now();
  const started = page.waitForResponse(
    (r) => r.request().method() === "POST" && /\/api\/site-searches\/\d+\/runs$/.test(new URL(r.url()).pathname),
    { timeout: RUN_TIMEOUT },
  );
  await page.getByRole("button", { name: "Lancer la recherche" }).click();
  await page.getByRole("progressbar", { name: "Avancement de la recherche" }).waitFor({ state: "attached" });
  const res = await started;
  const id = (await res.json()).id;
  const runPath = res.headers()["location"] ?? `${new URL(res.url()).pathname}/${id}`;
  await page
    .getByTestId("run-status")
    .getByText(new RegExp(`Exécution n° ${id} : (terminée|échouée|annulée)`))
    .waitFor({ timeout: RUN_TIMEOUT });
  const ms = Date.now() - t0;
  const run = await apiCall(page, "GET", runPath);
  check(run.status === 200, `the run reads back (HTTP ${run.status})`);
  log(`run ${run.body.id}: HTTP ${res.status()} then ${run.body.status} in ${ms} ms, ${run.body.counts?.sites_kept} sites kept`);
  return { http: res.status(), run: run.body, ms };
}

/** JSON with object keys sorted (the stored criteria are JSONB: their key order is not ours). */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v ?? null);
}

/** The ranks shown in the table, top to bottom. */
async function tableRanks(page) {
  return page.locator("table[aria-label='Sites candidats'] tbody tr").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-rank"))));
}

const browser = await openBrowser({
  viewport: { width: 1440, height: 900 },
  locale: "fr-FR",
  // axe-core is injected as a script, which the app's CSP would refuse (run.mjs checks the CSP).
  bypassCSP: true,
});

let failed = null;
const consoleErrors = [];
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (e) => {
    consoleErrors.push(String(e));
    log(`page error: ${e}`);
  });

  // 1. COMMERCIAL: no "Prospection" in the navigation, the route sends home, the API refuses.
  await login(page, "COMMERCIAL");
  const nav = page.getByRole("navigation", { name: "Navigation principale" });
  check((await nav.getByRole("link", { name: "Prospection" }).count()) === 0, "COMMERCIAL has no Prospection link");
  await page.goto(`${BASE}/prospection`);
  await page.waitForURL(/\/dashboard/, { timeout: STEP_TIMEOUT });
  const refused = await apiCall(page, "GET", "/api/site-searches/defaults");
  check(refused.status === 403, `COMMERCIAL gets 403 from the site finder (HTTP ${refused.status})`);
  await logout(page);

  // 2. OPS opens Prospection from the navigation: the form shows the server's defaults.
  await login(page, "OPS");
  await page.getByRole("navigation", { name: "Navigation principale" }).getByRole("link", { name: "Prospection" }).click();
  await page.waitForURL(/\/prospection/);
  const defaults = (await apiCall(page, "GET", "/api/site-searches/defaults")).body;
  const minHa = page.getByLabel(/Surface constructible min\./);
  await minHa.waitFor();
  const fr = (n) => String(n).replace(".", ",");
  check((await minHa.inputValue()) === fr(defaults.criteria.min_buildable_ha), `min ha shows the default (${await minHa.inputValue()})`);
  const poste = page.getByLabel(/Distance max\. au poste source/);
  check((await poste.inputValue()) === fr(defaults.criteria.max_poste_distance_m), "poste distance shows the default");
  for (const [zone] of Object.entries(defaults.criteria.excluded_zones)) {
    check(await page.locator(`input[type=checkbox][id$="-zone-${zone}"]`).isChecked(), `zone ${zone} excluded by default`);
  }
  check(await page.getByLabel("au moins les MWc estimés du site").isChecked(), "capacity: the site's MWc by default");
  await axe(page, "prospection-form");

  // 3. The territory by keyboard: type the INSEE code, Enter picks it.
  const territory = page.getByRole("combobox", { name: /Commune ou département/ });
  await territory.fill("69114");
  await page.getByRole("option", { name: /69114/ }).first().waitFor();
  await territory.press("Enter");
  await page.getByRole("list", { name: "Territoire choisi" }).getByText(/69114/).waitFor();
  check((await page.getByTestId("territory-summary").textContent()).includes("69114"), "the territory says 69114");

  // 4. A first run with a minimum the demo can't meet, typed in French ("10 000"): no site, and
  // the page says what removed them. Then the defaults typed back, the same search saved and
  // re-run: the demo's default criteria give ranked candidates (issue 17).
  const frInt = (n) => new Intl.NumberFormat("fr-FR").format(n).replace(/\s/g, " ");
  await minHa.fill("50");
  await poste.fill("10 000");
  const first = await launch(page);
  figures.strict_run = { http: first.http, ms: first.ms, status: first.run.status, counts: first.run.counts };
  check(first.run.status === "succeeded", `the 50 ha run succeeded (${first.run.status}: ${first.run.error})`);
  check(first.run.criteria.min_buildable_ha === 50 && first.run.criteria.max_poste_distance_m === 10000, "the run used the typed criteria");
  check(first.run.counts.sites_kept === 0, `no 50 ha site in 69114 (${first.run.counts.sites_kept})`);
  const counts = page.getByTestId("run-counts");
  await counts.getByText(/parcelles examinées/).waitFor();
  const countsText = (await counts.textContent()).replace(/\s/g, " ");
  check(countsText.includes(`${frInt(first.run.counts.parcels_scanned)} parcelles examinées`), `counts in French (${countsText})`);
  check(countsText.includes("0 sites retenus"), "the kept sites are counted");
  await page.getByText("Aucun site ne passe ces critères").waitFor();
  // What removed them, largest first, with what to loosen.
  const reasons = await page.getByTestId("main-reasons").locator("li").allTextContents();
  figures.main_reasons = reasons;
  check(reasons.length >= 1 && /surface minimale/.test(reasons.join(" ")), `the reasons are listed (${reasons})`);
  await shot(page, "prospection-01-none", "Prospection, 69114 with a 50 ha minimum: no site passes, the counts say why");
  await minHa.fill(fr(defaults.criteria.min_buildable_ha));
  await poste.fill(fr(defaults.criteria.max_poste_distance_m));
  const second = await launch(page);
  figures.defaults_run = { http: second.http, ms: second.ms, status: second.run.status, counts: second.run.counts };
  check(second.run.status === "succeeded", `the default run succeeded (${second.run.status}: ${second.run.error})`);
  check(second.run.search_id === first.run.search_id, "the same search, saved with the new criteria");
  const sameAsDefaults = ["min_buildable_ha", "max_poste_distance_m", "min_capacity_mw", "gap_m", "plu_allowed_types", "plu_allowed_labels", "excluded_zones"]
    .filter((k) => canonical(second.run.criteria[k]) !== canonical(defaults.criteria[k]));
  check(sameAsDefaults.length === 0, `the run used the default criteria (differs: ${sameAsDefaults})`);
  const kept = second.run.counts.sites_kept;
  check(kept >= 3, `the default run keeps at least 3 sites (${kept})`);
  const keptText = (await counts.textContent()).replace(/\s/g, " ");
  check(keptText.includes(`${frInt(kept)} sites retenus`), `the kept sites are counted (${keptText})`);
  figures.candidates_with_defaults = kept;
  const shown = second.run;

  // 5. Ranked candidates in the table and on the map.
  await page.locator("table[aria-label='Sites candidats'] tbody tr").first().waitFor();
  const ranks = await tableRanks(page);
  check(ranks.length >= 3 && ranks.every((r, i) => r === i + 1), `ranked 1..n (${ranks})`);
  const scores = await page.locator("table[aria-label='Sites candidats'] tbody tr td:nth-child(3) > :first-child").allTextContents();
  const nums = scores.map((s) => Number(s.replace(",", ".").replace(/[^\d.]/g, "")));
  check(nums.every((s, i) => i === 0 || s <= nums[i - 1] + 0.5), `scores descend with the rank (${nums})`);
  // Drawn on the map, every one of them (rendered features, so the map has a size and shows them).
  const rendered = () =>
    page.evaluate(() => {
      const m = window.__lfsMap;
      if (!m || !m.getLayer("prospection-sites-fill") || m.getCanvas().clientHeight < 200) return 0;
      return new Set(m.queryRenderedFeatures({ layers: ["prospection-sites-fill"] }).map((f) => f.properties.rank)).size;
    });
  const tMap = Date.now();
  while ((await rendered()) < ranks.length && Date.now() - tMap < 60_000) await page.waitForTimeout(250);
  figures.map_candidates = await rendered();
  check(figures.map_candidates === ranks.length, `every site on the map (${figures.map_candidates} of ${ranks.length})`);

  // 6. Sort by buildable area (descending, then back), open site 1's card.
  const buildable = page.getByRole("columnheader", { name: "Constructible" });
  await buildable.getByRole("button").click();
  check((await buildable.getAttribute("aria-sort")) === "descending", "sorted by buildable area");
  const sortedRanks = await tableRanks(page);
  const sitesApi = await apiCall(page, "GET", `/api/site-searches/${shown.search_id}/runs/${shown.id}/sites?sort=-buildable_m2&page_size=200`);
  check(sitesApi.status === 200, `sites by buildable area (HTTP ${sitesApi.status})`);
  check(JSON.stringify(sortedRanks) === JSON.stringify(sitesApi.body.items.map((s) => s.rank)), `the table's order is the server's (${sortedRanks})`);
  await page.getByRole("columnheader", { name: "Rang" }).getByRole("button").click();
  await page.getByRole("button", { name: "Voir le site n° 1" }).click();
  const card = page.getByTestId("site-card");
  await card.waitFor();
  await card.getByText("Surface constructible").first().waitFor();
  await card.getByText("Détail du score").waitFor();
  check((await card.locator("section[aria-label='Critères'] li").count()) >= 3, "the card lists the criteria's verdicts");
  check((await card.locator("section[aria-label='Détail du score'] tbody tr").count()) >= 1, "the card has the score's breakdown");
  await shot(page, "prospection-02-results", "Prospection: the run's sites on the map and in the table, site 1's card");
  await axe(page, "prospection-results");

  // Exports: every format the page offers (those the API describes, else the sites as GeoJSON)
  // downloads a non-empty file of that kind.
  const exportButtons = page.getByRole("group", { name: "Exports" }).getByRole("button");
  const labels = await exportButtons.allTextContents();
  check(labels.length >= 1, "at least one export");
  figures.exports = {};
  for (let i = 0; i < labels.length; i++) {
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: RUN_TIMEOUT }), exportButtons.nth(i).click()]);
    const path = await download.path();
    const body = readFileSync(path);
    const name = download.suggestedFilename();
    figures.exports[labels[i].trim()] = { file: name, bytes: body.length };
    check(body.length > 0, `export ${labels[i]} is not empty`);
    if (/\.geojson$/.test(name)) {
      const fc = JSON.parse(body.toString("utf8"));
      check(fc.type === "FeatureCollection" && fc.features.length === ranks.length, `GeoJSON has the ${ranks.length} sites (${fc.features?.length})`);
    } else if (/\.gpkg$/.test(name)) check(body.subarray(0, 15).toString("latin1") === "SQLite format 3", "a GeoPackage is SQLite");
    else if (/\.kml$/.test(name)) check(body.toString("utf8").includes("<kml"), "a KML document");
    else if (/\.csv$/.test(name)) check(body.toString("utf8").split(/\r?\n/).filter(Boolean).length === ranks.length + 1, "a CSV line per site");
  }
  log(`exports: ${JSON.stringify(figures.exports)}`);

  // 7. Select three by keyboard-reachable checkboxes, "Créer les leads".
  // By keyboard: focus a site's checkbox, Space ticks it.
  for (const r of [1, 2, 3]) {
    const box = page.getByRole("checkbox", { name: `Sélectionner le site n° ${r}` });
    await box.focus();
    await page.keyboard.press("Space");
    check(await box.isChecked(), `site ${r} selected by keyboard`);
  }
  await page.getByText("3 sélectionnés").waitFor();
  const made = page.waitForResponse((r) => /\/runs\/\d+\/leads$/.test(new URL(r.url()).pathname), { timeout: RUN_TIMEOUT });
  await page.getByRole("button", { name: "Créer les leads" }).click();
  const madeRes = await made;
  const result = page.getByTestId("leads-result");
  await result.getByText("3 leads créés").waitFor();
  const out = await madeRes.json();
  figures.leads = out.created;
  check(madeRes.status() === 201 && out.created.length === 3, `3 leads created (HTTP ${madeRes.status()})`);
  for (const c of out.created) {
    await result.getByRole("link", { name: c.internal_name }).waitFor();
    const lead = await apiCall(page, "GET", `/api/leads/${c.lead_id}`);
    const source = lead.body?.sourcing?.source ?? lead.body?.source;
    check(lead.status === 200 && source === "site_finder", `lead ${c.internal_name} exists from the site finder (${source})`);
  }
  // Their enrichment was queued in the same action: the worker enriches them.
  const t0 = Date.now();
  let statuses = [];
  while (Date.now() - t0 < 120_000) {
    statuses = [];
    for (const c of out.created) statuses.push((await apiCall(page, "GET", `/api/leads/${c.lead_id}`)).body.status);
    if (statuses.every((st) => st !== "NEW")) break;
    await page.waitForTimeout(1000);
  }
  figures.leads_enriched_ms = Date.now() - t0;
  check(out.enrichment_job_id != null && statuses.every((st) => st === "ENRICHED"), `the three leads are enriched (${statuses})`);
  // The table now links those sites to their leads, their checkboxes off.
  await page.locator("table[aria-label='Sites candidats'] tbody tr[data-rank='1']").getByRole("link", { name: "Lead du site n° 1" }).waitFor();
  check(await page.getByRole("checkbox", { name: "Sélectionner le site n° 2" }).isDisabled(), "a site made lead can't be selected again");
  await shot(page, "prospection-03-leads-created", "Prospection: three sites turned into leads, links to them");

  // 8. The history: the saved search and its runs, reopened after a reload.
  check(new URL(page.url()).searchParams.get("run") === String(shown.id), `the run is in the URL (${page.url()})`);
  await page.reload();
  // The URL reopens the search and its run.
  await page.locator("table[aria-label='Sites candidats'] tbody tr[data-rank='2']").getByRole("link", { name: "Lead du site n° 2" }).waitFor();
  await page.getByText(/Recherches enregistrées/).click();
  const searches = page.getByRole("list", { name: "Recherches" });
  // The reopened search is the current one of the list; opening it again shows its latest run.
  await searches.locator("button[aria-current='true']").click();
  await page.getByRole("list", { name: "Exécutions" }).getByRole("button").first().waitFor();
  figures.runs_listed = await page.getByRole("list", { name: "Exécutions" }).getByRole("button").count();
  check(figures.runs_listed === 2, `the search's runs are listed (${figures.runs_listed})`);
  await page.locator("table[aria-label='Sites candidats'] tbody tr[data-rank='3']").getByRole("link", { name: "Lead du site n° 3" }).waitFor();

  // 9. A phone (390 px) with the results: nothing wider than the screen; form and results stack.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400);
  const overflow = await page.evaluate(() => {
    const main = document.getElementById("main");
    return { doc: document.documentElement.scrollWidth, main: main.scrollWidth, client: main.clientWidth };
  });
  figures.phone = overflow;
  check(overflow.doc <= 390 && overflow.main <= overflow.client + 1, `no horizontal overflow at 390 px (${JSON.stringify(overflow)})`);
  await page.getByRole("table", { name: "Sites candidats" }).scrollIntoViewIfNeeded();
  await shot(page, "prospection-04-phone-390", "Prospection at 390 px: navigation as icons, the run's sites in the table below the map");
  await axe(page, "prospection-phone");

  await page.setViewportSize({ width: 1440, height: 900 });

  // 10. A drawn polygon as the territory (click four corners, Enter), run it.
  await page.getByRole("button", { name: "Nouvelle recherche" }).click();
  await page.getByRole("button", { name: "Dessiner un polygone" }).click();
  const mapBox = await page.getByTestId("prospection-map").boundingBox();
  for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]]) {
    await page.mouse.click(mapBox.x + mapBox.width * fx, mapBox.y + mapBox.height * fy);
  }
  await page.getByRole("button", { name: /Terminer le polygone \(4 sommets\)/ }).waitFor();
  await page.keyboard.press("Enter"); // the map has the focus after the clicks
  check((await page.getByTestId("territory-summary").textContent()) === "Polygone dessiné (4 sommets)", "the polygon is the territory");
  const drawn = await launch(page);
  figures.polygon_run = { http: drawn.http, ms: drawn.ms, status: drawn.run.status, parcels: drawn.run.counts?.parcels_scanned };
  check(drawn.run.territory.polygon?.type === "Polygon", "the run's territory is the drawn polygon");
  check(drawn.run.status === "succeeded", `the polygon run succeeded (${drawn.run.error})`);
  await shot(page, "prospection-05-polygon", "Prospection: a drawn polygon as the territory, its run's counts and coverage");

  check(consoleErrors.length === 0, `no page errors (${consoleErrors.join(" | ")})`);
  figures.ok = true;
} catch (err) {
  failed = err;
} finally {
  await finish(browser, failed, "prospection-figures.json", "prospection-failure.png");
}
