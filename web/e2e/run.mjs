// End-to-end test of the web app in Debian's Chromium, against the real API on PostGIS with the
// demo data. Usage: node e2e/run.mjs <base-url>   (users from E2E_USERS, password E2E_PASSWORD)
// Prints one JSON line of figures at the end; exits non-zero on the first failed step.
import { harness } from "./common.mjs";

const { finish, openBrowser, BASE, USERS, STEP_TIMEOUT, figures, profile, log, check, shot, axe, login, logout, apiCall, pageToken } =
  harness("e2e");
// Software WebGL on a shared machine: map steps get more time (the figures are reported apart).
const MAP_TIMEOUT = 60_000;

async function waitMapIdle(page) {
  await page.waitForFunction(() => window.__lfsMap && window.__lfsMap.loaded() && !window.__lfsMap.isMoving(), null, {
    timeout: MAP_TIMEOUT,
    polling: 100,
  });
  await page.evaluate(
    () =>
      new Promise((resolve) => {
        const m = window.__lfsMap;
        if (m.areTilesLoaded()) resolve(null);
        else m.once("idle", () => resolve(null));
      }),
  );
}

/** Parcels under a grid of canvas pixels: id → {x, y, area}. */
async function parcelsOnScreen(page) {
  return page.evaluate(() => {
    const m = window.__lfsMap;
    const c = m.getCanvas();
    const w = c.clientWidth;
    const h = c.clientHeight;
    const out = {};
    for (let x = w * 0.3; x < w * 0.7; x += 12) {
      for (let y = h * 0.25; y < h * 0.75; y += 12) {
        const f = m.queryRenderedFeatures([x, y], { layers: ["parcels-fill"] })[0];
        if (f && !out[f.properties.id]) out[f.properties.id] = { x, y, area: f.properties.area_m2 ?? 0, n: 0 };
        if (f) out[f.properties.id].n += 1;
      }
    }
    return out;
  });
}

async function dragCard(page, leadId, toStatus) {
  const card = page.locator(`[data-lead-id="${leadId}"]`);
  await card.waitFor({ timeout: STEP_TIMEOUT });
  const done = page.waitForResponse((r) => r.url().endsWith(`/api/leads/${leadId}/transition`), {
    timeout: STEP_TIMEOUT,
  });
  const target = page.locator(`[data-column="${toStatus}"]`);
  await target.scrollIntoViewIfNeeded();
  await card.dragTo(target);
  return (await done).status();
}

// A drag held over a column, with the real mouse: what the columns say before the drop (each
// column's data-drop: allowed, refused or home), then the drop. Returns the columns' states and
// whether a transition request went out.
async function dragAndLook(page, leadId, toStatus, beforeDrop) {
  const card = page.locator(`[data-lead-id="${leadId}"]`);
  await card.waitFor({ timeout: STEP_TIMEOUT });
  let sent = false;
  const onRequest = (r) => {
    if (r.url().endsWith(`/api/leads/${leadId}/transition`)) sent = true;
  };
  page.on("request", onRequest);
  const target = page.locator(`[data-column="${toStatus}"]`);
  await target.scrollIntoViewIfNeeded();
  const from = await card.boundingBox();
  const to = await target.boundingBox();
  await page.mouse.move(from.x + from.width / 2, from.y + 10);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2 + 20, from.y + 20, { steps: 4 });
  await page.mouse.move(to.x + to.width / 2, to.y + 60, { steps: 8 });
  await page.waitForSelector(`[data-column="${toStatus}"][data-drop]`, { timeout: STEP_TIMEOUT });
  const drops = await page.$$eval("[data-column]", (els) =>
    Object.fromEntries(els.map((el) => [el.getAttribute("data-column"), el.getAttribute("data-drop")])),
  );
  if (beforeDrop) await beforeDrop();
  await page.mouse.up();
  await page.waitForTimeout(400);
  page.off("request", onRequest);
  return { drops, sent };
}

async function cardColumn(page, leadId) {
  return page.locator(`[data-lead-id="${leadId}"]`).evaluate((el) => el.closest("[data-column]")?.getAttribute("data-column"));
}

const browser = await openBrowser({
  viewport: { width: 1440, height: 900 },
  locale: "fr-FR",
});

let failed = null;
const consoleErrors = [];
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  // The server's Content-Security-Policy (api/web.py): anything it blocks is a failure too.
  page.on("console", (m) => {
    const text = m.text();
    if (m.type() === "error" && /Content Security Policy/i.test(text) && !consoleErrors.includes(text)) {
      consoleErrors.push(text);
    }
  });

  // 1. First load of the app (cold cache): navigation until the login form is usable.
  const t0 = Date.now();
  await page.goto(`${BASE}/login`, { waitUntil: "load" });
  await page.getByLabel("Adresse e-mail").waitFor();
  figures.first_load_ms = Date.now() - t0;
  figures.first_load_navigation = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource");
    return {
      dom_content_loaded_ms: Math.round(n.domContentLoadedEventEnd),
      load_ms: Math.round(n.loadEventEnd),
      transferred_kb: Math.round((n.transferSize + res.reduce((s, r) => s + (r.transferSize || 0), 0)) / 1024),
      requests: res.length + 1,
    };
  });
  await shot(page, "01-login", "Login page (first load)");

  // A 401 sends back to login: a deep link without a session lands on the login page.
  await page.goto(`${BASE}/pipeline`);
  await page.waitForURL(/\/login/);

  // 2. OPS: the map explorer is home; parcels are rendered at z15 on the demo commune.
  await login(page, "OPS");
  check(page.url().endsWith("/pipeline"), `back to the deep link after login (got ${page.url()})`);
  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/map/);
  const tileReqs = [];
  const onTileReq = (r) => {
    if (r.url().includes("/tiles/")) tileReqs.push({ url: r.url(), auth: r.headers()["authorization"] ?? null });
  };
  page.on("request", onTileReq);
  await page.goto(`${BASE}/map?lat=45.9630&lon=4.6510&z=15&layers=communes,env_zones,urban_zones,parcels,substations,leads`);
  await waitMapIdle(page);
  const rendered = await page.evaluate(() => window.__lfsMap.queryRenderedFeatures({ layers: ["parcels-fill"] }).length);
  check(rendered > 50, `parcels rendered at z15 (got ${rendered})`);
  figures.parcels_rendered_z15 = rendered;

  // The leads' tiles carry the tile token in their URL; the public reference layers nothing.
  const leadTiles = () => tileReqs.filter((r) => r.url.includes("/tiles/leads/"));
  const tokenOf = (url) => new URL(url).searchParams.get("token");
  check(leadTiles().length > 0 && leadTiles().every((r) => tokenOf(r.url) && !r.auth), "leads tiles carry ?token=, no header");
  const refTiles = tileReqs.filter((r) => r.url.includes("/tiles/parcels/"));
  check(refTiles.length > 0 && refTiles.every((r) => !tokenOf(r.url) && !r.auth), "reference tiles carry no credential");
  // A leads tile refused (token revoked): one renewal, the leads reload with the new token.
  const firstToken = tokenOf(leadTiles()[0].url);
  let refuse = 1;
  await page.route("**/tiles/leads/**", (route) =>
    refuse-- > 0
      ? route.fulfill({ status: 401, contentType: "application/problem+json", body: '{"status":401,"title":"Unauthorized"}' })
      : route.continue(),
  );
  const renewed = page.waitForResponse((r) => r.url().endsWith("/api/auth/tile-token") && r.request().method() === "POST");
  const reloadLeads = () =>
    page.evaluate(() => {
      const src = window.__lfsMap.getSource("leads");
      src.setTiles(src.tiles);
    });
  await reloadLeads();
  check((await renewed).status() === 200, "a 401 on a leads tile renews the tile token");
  const reloadedBy = Date.now() + MAP_TIMEOUT;
  while (!leadTiles().some((r) => tokenOf(r.url) && tokenOf(r.url) !== firstToken)) {
    check(Date.now() < reloadedBy, "the leads reload with the renewed token");
    await page.waitForTimeout(100);
  }
  // Renewal impossible (the token endpoint down): "Réessayer" instead of spinning; parcels stay.
  refuse = 1_000;
  await page.route("**/api/auth/tile-token", (route) => route.fulfill({ status: 503, body: "{}" }));
  await reloadLeads();
  const alert = page.locator(".lfs-tile-token");
  await alert.getByText("Réessayer").waitFor({ state: "visible", timeout: MAP_TIMEOUT });
  const still = await page.evaluate(() => window.__lfsMap.queryRenderedFeatures({ layers: ["parcels-fill"] }).length);
  check(still > 50, `parcels still drawn while the leads are refused (got ${still})`);
  await page.unroute("**/api/auth/tile-token");
  refuse = 0;
  await alert.getByText("Réessayer").click();
  await alert.waitFor({ state: "hidden", timeout: MAP_TIMEOUT });
  await page.unroute("**/tiles/leads/**");
  page.off("request", onTileReq);
  figures.tile_token_recovery = "ok";

  // Panning: time from the end of the move until tiles are loaded and drawn (performance marks).
  const pans = [];
  const idles = [];
  for (const [dx, dy] of [[600, 0], [0, 400], [-900, 0], [0, -700], [500, 300]]) {
    // Measured inside the page: polling from the test (CDP) would slow the page it measures.
    const [parcelsMs, idleMs] = await page.evaluate(async ([dx, dy]) => {
      const m = window.__lfsMap;
      performance.clearMeasures("lfs:pan-to-parcels");
      performance.clearMeasures("lfs:pan-to-idle");
      const idle = new Promise((resolve) => m.once("idle", resolve));
      m.panBy([dx, dy], { duration: 0 });
      await idle;
      await new Promise((resolve) => setTimeout(resolve, 0));
      return [
        performance.getEntriesByName("lfs:pan-to-parcels")[0]?.duration ?? NaN,
        performance.getEntriesByName("lfs:pan-to-idle")[0]?.duration ?? NaN,
      ];
    }, [dx, dy]);
    const n = await page.evaluate(() => window.__lfsMap.queryRenderedFeatures({ layers: ["parcels-fill"] }).length);
    check(n > 0, "parcels drawn after panning");
    pans.push(Math.round(parcelsMs));
    idles.push(Math.round(idleMs));
  }
  figures.pan_to_parcels_ms = pans;
  figures.pan_to_parcels_max_ms = Math.max(...pans);
  figures.pan_to_idle_ms = idles;

  // Search: a commune by name, then fly there (keyboard: arrows + Enter).
  const search = page.getByLabel("Rechercher une commune ou une parcelle");
  await search.fill("Porte des Pierres");
  await page.getByRole("option").first().waitFor();
  await search.press("Enter");
  await page.waitForFunction(() => !window.__lfsMap.isMoving(), null, { timeout: MAP_TIMEOUT, polling: 100 });

  // A parcel found by its id, then by its cadastral reference, joins the selection (lead creation
  // without a mouse); results are labelled by reference.
  for (const q of ["69114000AA0030", "AA 30"]) {
    await search.fill(q);
    await page.getByRole("option", { name: /69114 AA 30/ }).waitFor();
    await search.press("Enter");
    await page.getByTestId("selection-panel").getByText("1 parcelle sélectionnée").waitFor();
    await page.getByRole("button", { name: "Vider la sélection" }).click();
  }

  // 3. Click a parcel for its facts, shift-click to select several, create a lead from one.
  await page.evaluate(() => window.__lfsMap.jumpTo({ center: [4.651, 45.963], zoom: 16.5 }));
  await waitMapIdle(page);
  const onScreen = Object.entries(await parcelsOnScreen(page)).sort((a, b) => b[1].n - a[1].n);
  check(onScreen.length >= 2, "at least two parcels under the centre of the map");
  const [mainId, main] = onScreen[0];
  const [otherId, other] = onScreen[1];
  const box = await page.locator("[data-testid=map] canvas").boundingBox();
  const clickAt = async (p, shift = false) => {
    if (shift) await page.keyboard.down("Shift");
    await page.mouse.click(box.x + p.x, box.y + p.y);
    if (shift) await page.keyboard.up("Shift");
  };
  await clickAt(main);
  const panel = page.getByTestId("selection-panel");
  await panel.getByText(mainId).first().waitFor({ timeout: MAP_TIMEOUT });
  await panel.getByText("Surface mesurée").waitFor();
  await clickAt(other, true);
  await panel.getByText("2 parcelles sélectionnées").waitFor();
  await shot(page, "02-map-selection", "Map explorer at z16.5: parcels, zones, two parcels shift-selected with the facts panel");
  await clickAt(other, true);
  await panel.getByText("1 parcelle sélectionnée").waitFor();
  await panel.getByLabel("Nom du site").fill("E2E Les Brosses");
  const created = page.waitForResponse((r) => r.url().endsWith("/api/leads") && r.request().method() === "POST");
  await panel.getByRole("button", { name: "Créer un lead" }).click();
  const createdRes = await created;
  check(createdRes.status() === 201, `lead created (HTTP ${createdRes.status()}: ${await createdRes.text()})`);
  const lead = await createdRes.json();
  await page.waitForURL(new RegExp(`/leads/${lead.id}$`));
  figures.lead_id = lead.id;
  log(`lead ${lead.id} created from parcel ${mainId}`);

  // 4. Enrich it from the lead page.
  await page.getByRole("button", { name: "Enrichir" }).click();
  await page.getByText(/Enrichissement (terminé|partiel)/).first().waitFor({ timeout: 30_000 });
  await page.locator('[data-status="ENRICHED"]').first().waitFor();
  await page.getByTestId("score").filter({ hasNotText: "–" }).waitFor();
  await page.getByText("Ensoleillement et production").waitFor();
  await page.getByTestId("monthly-chart").locator("svg").first().waitFor();
  // A comment and a document (upload with progress).
  await page.getByLabel("Nouveau commentaire").fill("Propriétaire contacté, visite prévue.");
  await page.getByRole("button", { name: "Publier" }).click();
  await page.getByText("Propriétaire contacté, visite prévue.").waitFor();
  await page.getByLabel("Fichier à envoyer").setInputFiles({
    name: "photo-site.png",
    mimeType: "image/png",
    buffer: Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    ),
  });
  await page.getByTestId("documents").getByText("photo-site.png").waitFor();
  await page.waitForTimeout(300); // let the map fit and the chart settle for the screenshot
  await shot(page, "03-lead-enriched", "Lead detail after enrichment: site map, sun + monthly chart, sections, score breakdown, comment, document");

  // A second lead that stays NEW (created through the API): COMMERCIAL must never see it.
  // (the biggest other parcel on screen: lead surfaces under 100 m² are refused by the API).
  const spare = onScreen.filter(([id]) => id !== mainId).sort((a, b) => b[1].area - a[1].area)[0][0];
  const second = await apiCall(page, "POST", "/api/leads", { parcel_ids: [spare], name: "E2E reste nouveau" });
  check(second.status === 201, `second lead created (${second.status} ${JSON.stringify(second.body)})`);

  // 5. Kanban as OPS: ENRICHED → QUALIFIED → IN_REVIEW; IN_REVIEW → CLIENT_READY is refused.
  await page.goto(`${BASE}/pipeline`);
  await page.getByTestId("kanban").waitFor();
  check((await dragCard(page, lead.id, "QUALIFIED")) === 200, "OPS qualifies");
  await page.waitForFunction((id) => document.querySelector(`[data-column="QUALIFIED"] [data-lead-id="${id}"]`), lead.id);
  // The board says before the drop where the card may go (the server's allowed_transitions for
  // this user): from Qualifié an OPS may submit or reject, nothing else.
  const looked = await dragAndLook(page, lead.id, "IN_REVIEW", () =>
    shot(page, "04-pipeline-ops-refused", "Kanban as OPS dragging a qualified lead: the columns it may go to marked, the others dimmed, before the drop"),
  );
  check(
    looked.drops.IN_REVIEW === "allowed" &&
      looked.drops.REJECTED === "allowed" &&
      looked.drops.QUALIFIED === "home" &&
      ["NEW", "ENRICHED", "CLIENT_READY", "SOLD"].every((s) => looked.drops[s] === "refused"),
    `OPS: only En revue and Rejeté offered before the drop (${JSON.stringify(looked.drops)})`,
  );
  check(looked.sent, "OPS submits for review (dropped on an allowed column)");
  await page.waitForFunction((id) => document.querySelector(`[data-column="IN_REVIEW"] [data-lead-id="${id}"]`), lead.id);
  // In review, an OPS has no move left (QA decides): the card can't be dragged, its menu is off.
  const inReview = page.locator(`[data-lead-id="${lead.id}"]`);
  check((await inReview.getAttribute("draggable")) === "false", "an OPS can't drag a lead in review");
  check(await inReview.getByRole("combobox").isDisabled(), "an OPS's ⇄ menu is off on a lead in review");
  await logout(page);

  // 6. MANAGER approves: IN_REVIEW → CLIENT_READY, then generates the PDF.
  await login(page, "MANAGER");
  check(page.url().endsWith("/dashboard"), `a new login starts at home, not at the last user's page (${page.url()})`);
  await page.getByTestId("to-review").waitFor();
  await page.getByTestId("team-pipeline").waitFor();
  await shot(page, "05-dashboard-manager", "Manager dashboard: my leads, waiting for review, team pipeline");
  await page.goto(`${BASE}/pipeline`);
  await page.getByTestId("kanban").waitFor();
  check((await dragCard(page, lead.id, "CLIENT_READY")) === 200, "MANAGER approves");
  await page.waitForFunction((id) => document.querySelector(`[data-column="CLIENT_READY"] [data-lead-id="${id}"]`), lead.id);
  await shot(page, "06-pipeline-manager", "Kanban as MANAGER after approving the lead (Prêt client)");
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Exporter" }).click();
  const xlsx = await download;
  check(/^leads-.*\.xlsx$/.test(xlsx.suggestedFilename()), `Excel export (${xlsx.suggestedFilename()})`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForTimeout(200);
  await shot(page, "12-pipeline-manager-1280", "The same Kanban on a 1280×800 laptop screen: every column fits");
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${BASE}/leads/${lead.id}`);
  const pdf = page.waitForResponse((r) => r.url().endsWith(`/api/leads/${lead.id}/generate-pdf`), { timeout: 60_000 });
  await page.getByRole("button", { name: "Générer PDF" }).click();
  const pdfRes = await pdf;
  check(pdfRes.status() < 300, `PDF generated (HTTP ${pdfRes.status()}: ${await pdfRes.text()})`);
  const pdfOut = await pdfRes.json();
  await page.getByText(/Dossier PDF généré/).first().waitFor();
  await page.getByTestId("documents").locator("li").nth(1).waitFor();
  const pdfToken = await pageToken(page);
  const pdfHead = await page.evaluate(async ({ url, token }) => {
    const r = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    const b = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, magic: String.fromCharCode(...b.slice(0, 5)), size: b.length };
  }, { url: pdfOut.download_url, token: pdfToken });
  check(pdfHead.status === 200 && pdfHead.magic === "%PDF-", `the PDF downloads (${JSON.stringify(pdfHead)})`);
  figures.pdf_bytes = pdfHead.size;
  await shot(page, "07-lead-pdf", "Lead detail as MANAGER: Prêt client, the generated PDF dossier in the documents");
  await page.goto(`${BASE}/analytics`);
  await page.getByTestId("chart-funnel").locator("svg").first().waitFor();
  await page.getByTestId("chart-scores").locator("svg").first().waitFor();
  await page.waitForTimeout(300);
  await shot(page, "08-analytics", "Analytics: funnel, weekly activity, scores, time in stage, departments, team throughput");
  await logout(page);

  // 7. ADMIN: users and roles.
  await login(page, "ADMIN");
  await page.goto(`${BASE}/admin`);
  await page.getByTestId("users-table").waitFor();
  await shot(page, "09-admin", "Admin: users and roles");
  await logout(page);

  // 8. COMMERCIAL sees only Client Ready (and Sold) leads.
  await login(page, "COMMERCIAL");
  await page.getByTestId("client-ready").waitFor();
  await shot(page, "10-dashboard-commercial", "Commercial dashboard: client-ready leads");
  await page.goto(`${BASE}/pipeline`);
  await page.getByTestId("kanban").waitFor();
  const columns = await page.locator("[data-column]").evaluateAll((els) => els.map((e) => e.getAttribute("data-column")));
  check(JSON.stringify(columns) === JSON.stringify(["CLIENT_READY", "SOLD"]), `commercial columns ${columns}`);
  await page.locator(`[data-column="CLIENT_READY"] [data-lead-id="${lead.id}"]`).waitFor();
  check((await page.locator(`[data-lead-id="${second.body.id}"]`).count()) === 0, "the NEW lead is not on the board");
  const list = await apiCall(page, "GET", "/api/leads?page_size=200");
  const statuses = [...new Set(list.body.items.map((l) => l.status))];
  check(statuses.every((s) => s === "CLIENT_READY" || s === "SOLD"), `commercial sees ${statuses}`);
  check(list.body.items.some((l) => l.id === lead.id), "commercial sees the approved lead");
  const hidden = await apiCall(page, "GET", `/api/leads/${second.body.id}`);
  check(hidden.status === 404, `the NEW lead is invisible to COMMERCIAL (HTTP ${hidden.status})`);
  await shot(page, "11-pipeline-commercial", "Kanban as COMMERCIAL: only Prêt client and Vendu");
  check(consoleErrors.length === 0, `no page errors (${consoleErrors.join(" | ")})`);
  figures.ok = true;
} catch (err) {
  failed = err;
} finally {
  await finish(browser, failed, "figures.json");
}
