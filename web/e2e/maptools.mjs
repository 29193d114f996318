// The map tools in Debian's Chromium (issue 20, "the map tools prospectors expect"), against the
// real API on PostGIS with the demo data, a local raster tile stand-in as the basemaps and a
// BAN-protocol geocoder stand-in. Usage: E2E_TILES=<tile stand-in URL> node e2e/maptools.mjs <url>
// Real mouse throughout: a Shift + drag box and a lasso select demo parcels (the running total
// in ha checked against the tiles' areas), the selection's constraints listed, its GeoJSON
// exported, a distance measured (checked against the haversine of the two points), an address
// found, the basemap switched (the stand-in sees the tiles asked); axe-core on the map's states.
import { readFileSync } from "node:fs";
import { harness } from "./common.mjs";

const { finish, openBrowser, BASE, figures, log, check, shot, axe, login } = harness("maptools", {
  subdir: "maptools",
});
const TILES = (process.env.E2E_TILES ?? "").replace(/\/$/, "");
const MAP_TIMEOUT = 60_000; // software WebGL on a shared machine

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

/** The parcels drawn in a screen box: id → area (m², from the tiles). */
async function parcelsInBox(page, a, b) {
  return page.evaluate(
    ([a, b]) => {
      const m = window.__lfsMap;
      const out = {};
      const box = [
        [Math.min(a[0], b[0]), Math.min(a[1], b[1])],
        [Math.max(a[0], b[0]), Math.max(a[1], b[1])],
      ];
      for (const f of m.queryRenderedFeatures(box, { layers: ["parcels-fill"] })) out[f.properties.id] = f.properties.area_m2;
      return out;
    },
    [a, b],
  );
}

/** Selected parcels according to the map's feature state. */
async function selectedOnMap(page, ids) {
  return page.evaluate(
    (ids) => ids.filter((id) => window.__lfsMap.getFeatureState({ source: "parcels", sourceLayer: "parcels", id }).selected),
    ids,
  );
}

const hectares = (m2) => new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(m2 / 10_000);
const norm = (s) => s.replace(/\s/g, " ");

const browser = await openBrowser({ viewport: { width: 1440, height: 900 }, locale: "fr-FR", acceptDownloads: true });
let failed = null;
const pageErrors = [];
const tileRequests = [];
try {
  check(TILES.startsWith("http://127.0.0.1:"), `E2E_TILES is the local tile stand-in (${TILES})`);
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
  page.on("request", (r) => {
    if (r.url().startsWith(TILES)) tileRequests.push(new URL(r.url()).pathname);
  });

  await login(page, "OPS");
  const layers = "communes,env_zones,urban_zones,parcels,substations";
  await page.goto(`${BASE}/map?lat=45.96300&lon=4.65100&z=16.50&layers=${layers}`);
  await waitMapIdle(page);

  // 1. The basemap: the server's default ("Plan") from the stand-in, under the data layers.
  const switcher = page.getByTestId("basemap-switcher");
  check((await switcher.getByRole("radio", { name: "Plan", exact: true }).getAttribute("aria-checked")) === "true", "Plan is on at opening");
  const order = await page.evaluate(() => window.__lfsMap.getStyle().layers.map((l) => l.id));
  check(order[0] === "background" && order[1] === "basemap", `basemap right above the background (${order.slice(0, 3)})`);
  check(tileRequests.some((p) => p.startsWith("/plan/")), `plan tiles asked of the stand-in (${tileRequests.slice(0, 3)})`);
  figures.plan_tiles = tileRequests.filter((p) => p.startsWith("/plan/")).length;
  await shot(page, "maptools-01-basemap", "The map over the basemap stand-in (Plan), parcels and zones on top");

  const canvas = await page.locator("[data-testid=map] canvas").boundingBox();
  const W = canvas.width;
  const H = canvas.height;
  const at = (p) => [canvas.x + p[0], canvas.y + p[1]];

  // 2. Box selection: Shift + drag with the real mouse.
  const a = [W * 0.42, H * 0.42];
  const b = [W * 0.52, H * 0.55];
  const inBox = await parcelsInBox(page, a, b);
  const boxIds = Object.keys(inBox);
  check(boxIds.length >= 2, `at least two parcels in the box (${boxIds.length})`);
  await page.keyboard.down("Shift");
  await page.mouse.move(...at(a));
  await page.mouse.down();
  await page.mouse.move(...at([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]), { steps: 5 });
  await page.getByTestId("selection-box").waitFor(); // drawn while dragging
  await page.mouse.move(...at(b), { steps: 5 });
  await page.mouse.up();
  await page.keyboard.up("Shift");
  const panel = page.getByTestId("selection-panel");
  await panel.getByText(`${boxIds.length} parcelles sélectionnées`).waitFor();
  check((await selectedOnMap(page, boxIds)).length === boxIds.length, "every parcel of the box is selected on the map");
  const boxTotal = Object.values(inBox).reduce((s, v) => s + v, 0);
  const total = page.getByTestId("selection-total");
  check(norm(await total.textContent()) === norm(`Surface totale : ${hectares(boxTotal)} ha`), `box total ${await total.textContent()} vs ${hectares(boxTotal)} ha`);
  figures.box = { parcels: boxIds.length, area_m2: Math.round(boxTotal) };

  // The map did not pan during the Shift + drag.
  const centre = await page.evaluate(() => window.__lfsMap.getCenter().toArray());
  check(Math.abs(centre[0] - 4.651) < 1e-6 && Math.abs(centre[1] - 45.963) < 1e-6, `no pan while box-selecting (${centre})`);

  // 3. The lasso: a free polygon drawn with the button held, to the right of the box.
  await page.getByRole("button", { name: "Lasso" }).click();
  const c = [W * 0.64, H * 0.48];
  const r = Math.min(W, H) * 0.08;
  const ring = Array.from({ length: 24 }, (_, i) => [c[0] + r * Math.cos((i * Math.PI) / 12), c[1] + r * 0.8 * Math.sin((i * Math.PI) / 12)]);
  const lassoCandidates = await parcelsInBox(page, [c[0] - r, c[1] - r], [c[0] + r, c[1] + r]);
  await page.mouse.move(...at(ring[0]));
  await page.mouse.down();
  for (const p of ring.slice(1)) await page.mouse.move(...at(p), { steps: 2 });
  await page.mouse.move(...at(ring[0]), { steps: 2 });
  await page.mouse.up();
  await page.getByRole("button", { name: "Lasso" }).click(); // off again
  const selectedIds = await panel.locator("ul li button:first-child").allTextContents();
  const added = selectedIds.filter((id) => !boxIds.includes(id));
  check(added.length >= 1, `the lasso added parcels (${added.length})`);
  check(added.every((id) => id in lassoCandidates), "the lasso added only parcels drawn inside its extent");
  await panel.getByText(`${selectedIds.length} parcelles sélectionnées`).waitFor();
  const areas = await page.evaluate((ids) => {
    const m = window.__lfsMap;
    const found = {};
    for (const f of m.queryRenderedFeatures({ layers: ["parcels-fill"] })) if (ids.includes(f.properties.id)) found[f.properties.id] = f.properties.area_m2;
    return found;
  }, selectedIds);
  const allTotal = selectedIds.reduce((s, id) => s + (areas[id] ?? NaN), 0);
  check(norm(await total.textContent()) === norm(`Surface totale : ${hectares(allTotal)} ha`), `running total ${await total.textContent()} vs ${hectares(allTotal)} ha`);
  figures.lasso = { added: added.length, total_parcels: selectedIds.length, area_m2: Math.round(allTotal) };

  // 4. The selection's constraints, before any lead: labels, PLU, the poste and its distance.
  const constraints = page.getByTestId("constraints");
  await constraints.waitFor({ timeout: 30_000 });
  const text = norm(await constraints.textContent());
  check(/Zones protégées/.test(text) && /Zonage PLU/.test(text) && /Leads existants/.test(text), `constraints listed: ${text}`);
  check(/Poste source le plus proche.+ à [\d ,]+ (km|m) · capacité disponible/.test(text), `nearest poste with its distance: ${text}`);
  check(!/znieff|natura2000_|ppri_/.test(text), `zone labels, not codes: ${text}`);
  figures.constraints = text.slice(0, 400);
  await shot(page, "maptools-02-selection", "Box + lasso selection: count, total in ha, the constraints before the lead");
  await axe(page, "map-selection");

  // 5. Export the selection as GeoJSON.
  await panel.getByRole("button", { name: "Exporter" }).click();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("menuitem", { name: "GeoJSON (QGIS)" }).click()]);
  const fc = JSON.parse(readFileSync(await download.path(), "utf8"));
  check(download.suggestedFilename() === "selection.geojson", `file name ${download.suggestedFilename()}`);
  check(
    JSON.stringify(fc.features.map((f) => f.id).sort()) === JSON.stringify([...selectedIds].sort()),
    `the export holds the selection (${fc.features.length})`,
  );
  figures.export_features = fc.features.length;

  // 6. Measure a distance: two clicks, Enter; the haversine of the two points.
  await page.getByRole("button", { name: "Mesurer une distance" }).click();
  const m1 = [W * 0.3, H * 0.7];
  const m2 = [W * 0.7, H * 0.7];
  await page.mouse.click(...at(m1));
  await page.mouse.click(...at(m2));
  await page.keyboard.press("Enter");
  const result = page.getByTestId("measure-result");
  await result.getByText("terminé").waitFor();
  const want = await page.evaluate(
    ([p, q]) => {
      const m = window.__lfsMap;
      const [a, b] = [m.unproject(p), m.unproject(q)];
      const rad = (d) => (d * Math.PI) / 180;
      const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lng - a.lng) / 2) ** 2;
      return 2 * 6378137 * Math.asin(Math.sqrt(h));
    },
    [m1, m2],
  );
  const shown = norm(await result.textContent());
  const match = /Distance : ([\d ,]+) (m|km)/.exec(shown);
  check(match, `a distance shown: ${shown}`);
  const metres = Number(match[1].replace(/ /g, "").replace(",", ".")) * (match[2] === "km" ? 1000 : 1);
  check(Math.abs(metres - want) <= Math.max(1, want * 0.01), `measured ${shown} vs ${Math.round(want)} m`);
  check((await panel.getByText(`${selectedIds.length} parcelles sélectionnées`).count()) === 1, "measuring clicks do not touch the selection");
  figures.measure = { shown, expected_m: Math.round(want) };
  await shot(page, "maptools-03-measure", "A distance measured on the map");
  await axe(page, "map-measure");
  await page.getByRole("button", { name: "Mesurer une distance" }).click();

  // Measure an area: a triangle clicked, Enter; the spherical area of its three points.
  await page.getByRole("button", { name: "Mesurer une surface" }).click();
  const tri = [
    [W * 0.3, H * 0.3],
    [W * 0.6, H * 0.3],
    [W * 0.45, H * 0.75],
  ];
  for (const p of tri) await page.mouse.click(...at(p));
  await page.keyboard.press("Enter");
  await result.getByText("terminé").waitFor();
  const wantArea = await page.evaluate((pts) => {
    const m = window.__lfsMap;
    const ll = pts.map((p) => m.unproject(p));
    const rad = (d) => (d * Math.PI) / 180;
    let sum = 0;
    for (let i = 0; i < ll.length; i++) {
      const [l, mid, u] = [ll[i], ll[(i + 1) % ll.length], ll[(i + 2) % ll.length]];
      sum += (rad(u.lng) - rad(l.lng)) * Math.sin(rad(mid.lat));
    }
    return Math.abs((sum * 6378137 * 6378137) / 2);
  }, tri);
  const areaShown = norm(await result.textContent());
  const am = /Surface : ([\d ,]+) (m²|ha|km²)/.exec(areaShown);
  check(am, `an area shown: ${areaShown}`);
  const unit = { "m²": 1, ha: 10_000, "km²": 1_000_000 }[am[2]];
  const areaM2 = Number(am[1].replace(/ /g, "").replace(",", ".")) * unit;
  check(Math.abs(areaM2 - wantArea) <= Math.max(1, wantArea * 0.01), `measured ${areaShown} vs ${Math.round(wantArea)} m²`);
  figures.measure_area = { shown: areaShown, expected_m2: Math.round(wantArea) };
  await page.getByRole("button", { name: "Mesurer une surface" }).click();

  // 7. An address from the geocoder stand-in: the search box lists it as "adresse".
  const search = page.getByRole("combobox", { name: /adresse/ });
  await search.fill("place de la mairie");
  const option = page.getByRole("option", { name: /1 Place de la Mairie 69380 Lozanne/ });
  await option.waitFor();
  check((await option.textContent()).startsWith("adresse"), "the address is labelled adresse");
  await search.press("Escape");

  // 8. Switch the basemap: Photo asks the stand-in for photo tiles; Aucun removes it.
  const before = tileRequests.length;
  await switcher.getByRole("radio", { name: "Photo", exact: true }).click();
  await waitMapIdle(page);
  check(tileRequests.slice(before).some((p) => p.startsWith("/photo/")), "photo tiles asked of the stand-in");
  figures.photo_tiles = tileRequests.filter((p) => p.startsWith("/photo/")).length;
  await shot(page, "maptools-04-photo", "Basemap switched to Photo (stand-in tiles)");
  // A style basemap: its JSON fetched, its background and source under our layers.
  const beforeStyle = tileRequests.length;
  await switcher.getByRole("radio", { name: "Plan style" }).click();
  await page.waitForFunction(() => !!window.__lfsMap.getLayer("basemap:tuiles"), null, { timeout: 30_000 });
  await waitMapIdle(page);
  const styled = await page.evaluate(() => window.__lfsMap.getStyle().layers.map((l) => l.id));
  check(
    styled.indexOf("basemap:fond") === 1 && styled.indexOf("basemap:tuiles") === 2 && styled.indexOf("parcels-fill") > 2,
    `the style's layers right above the background, under the data (${styled.slice(0, 4)})`,
  );
  const afterStyle = tileRequests.slice(beforeStyle);
  check(afterStyle.includes("/style.json") && afterStyle.some((p) => p.startsWith("/styled/")), "the style and its tiles asked of the stand-in");
  figures.style_tiles = afterStyle.filter((p) => p.startsWith("/styled/")).length;

  // Tiles that fail (the stand-in answers 404): a discreet French notice, the data layers stay.
  await switcher.getByRole("radio", { name: "Photo 2" }).click();
  await page.getByTestId("basemap-failed").waitFor({ timeout: 30_000 });
  check(/Fond de carte indisponible/.test(await page.getByTestId("basemap-failed").textContent()), "the failing basemap is said");
  check(await page.evaluate(() => window.__lfsMap.queryRenderedFeatures({ layers: ["parcels-fill"] }).length > 0), "parcels still drawn");
  await shot(page, "maptools-05-basemap-failed", "A basemap whose tiles fail: the notice under the switcher, the data layers drawn");
  await switcher.getByRole("radio", { name: "Aucun" }).click();
  check((await page.getByTestId("basemap-failed").count()) === 0, "Aucun: no failure notice");
  check(!(await page.evaluate(() => !!window.__lfsMap.getLayer("basemap"))), "Aucun: no basemap layer");
  check(await page.evaluate(() => !!window.__lfsMap.getLayer("parcels-fill")), "the data layers stay");
  await axe(page, "map-no-basemap");

  check(pageErrors.length === 0, `no page errors or CSP violations (${pageErrors.join(" | ")})`);
  figures.ok = true;
  log("map tools: ok");
} catch (err) {
  failed = err;
} finally {
  await finish(browser, failed, "maptools-figures.json");
}
