// The pipeline as a team uses it (issue 20), in Debian's Chromium against the real API with the
// demo data: OPS mentions the manager in a comment (completion with the mouse), the manager sees
// the bell's count, opens the notification (it lands on the lead and is read), then selects three
// rows of the list (click, shift-click) and assigns them at once; a 390 px pass; axe-core on the
// new UI.
// Usage: node e2e/team.mjs <base-url>   (E2E_USERS, E2E_PASSWORD, E2E_PARCELS)
// Prints one JSON line of figures at the end; exits non-zero on the first failed step.
import { harness } from "./common.mjs";

const { finish, openBrowser, BASE, USERS, STEP_TIMEOUT, figures, log, check, shot, axe, login, logout, apiCall } =
  harness("team", { subdir: "team" });
const PARCELS = JSON.parse(process.env.E2E_PARCELS ?? "[]");

const browser = await openBrowser({
  viewport: { width: 1280, height: 800 },
  locale: "fr-FR",
  timezoneId: "Europe/Paris",
  bypassCSP: true, // axe-core is injected as a script
});

let failed = null;
const pageErrors = [];
try {
  check(PARCELS.length >= 4, `4 free parcels for the leads (got ${PARCELS.length})`);
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  // 1. OPS: four leads through the API; on the first one, a comment mentioning the manager.
  await login(page, "OPS");
  const leads = [];
  for (const [i, pid] of PARCELS.slice(0, 4).entries()) {
    const r = await apiCall(page, "POST", "/api/leads", { parcel_ids: [pid], name: `Équipe ${i + 1}` });
    check(r.status === 201, `lead from ${pid}: ${r.status} ${JSON.stringify(r.body)}`);
    leads.push(r.body);
  }
  await page.goto(`${BASE}/leads/${leads[0].id}`);
  const box = page.getByRole("textbox", { name: "Nouveau commentaire" });
  await box.click();
  await box.pressSequentially("Peux-tu valider le foncier @Mar", { delay: 15 });
  const option = page.getByRole("option", { name: /Marc Manager/ });
  await option.waitFor();
  await axe(page, "mention-completion");
  await shot(page, "01-mention-completion", "OPS types @Mar: the people who may see the lead are offered");
  await option.click(); // the real mouse on the suggestion
  const text = await box.inputValue();
  check(text === "Peux-tu valider le foncier @Marc Manager ", `the name is inserted (${JSON.stringify(text)})`);
  await box.pressSequentially("stp", { delay: 15 });
  await page.getByRole("button", { name: "Publier" }).click();
  await page.getByText("Peux-tu valider le foncier @Marc Manager stp").waitFor();
  await logout(page);

  // 2. MANAGER: the bell says it, the notification opens the lead and is then read.
  await login(page, "MANAGER");
  const bell = page.getByTestId("notification-bell");
  await page.getByTestId("notification-count").waitFor({ timeout: STEP_TIMEOUT });
  const before = Number(await page.getByTestId("notification-count").textContent());
  check(before >= 1, `the bell counts the mention (${before})`);
  figures.unread_before = before;
  await bell.click();
  const panel = page.getByRole("region", { name: "Notifications" });
  const item = panel.getByRole("link", { name: /Olivia Ops vous a mentionné sur le lead « Équipe 1 »/ });
  await item.waitFor();
  await axe(page, "notifications-open");
  await shot(page, "02-bell-open", "The manager's bell: the mention, linking to the lead");
  await item.click();
  await page.waitForURL((u) => u.pathname === `/leads/${leads[0].id}`);
  await page.getByText("Peux-tu valider le foncier @Marc Manager stp").waitFor();
  await page.waitForFunction(
    (n) => {
      const el = document.querySelector('[data-testid="notification-count"]');
      return (el ? Number(el.textContent) : 0) === n - 1;
    },
    before,
    { timeout: STEP_TIMEOUT },
  );
  const mine = await apiCall(page, "GET", "/api/notifications");
  check(mine.body.items.find((n) => n.lead_id === leads[0].id && n.kind === "mentioned")?.read_at, "the opened notification is read");
  figures.unread_after = mine.body.unread;

  // 3. MANAGER: the list, three rows selected (click, shift-click), assigned at once.
  await page.goto(`${BASE}/pipeline?view=list`);
  const list = page.getByTestId("lead-list");
  await list.waitFor();
  await page.getByTestId("list-totals").waitFor();
  figures.list_totals = (await page.getByTestId("list-totals").textContent()).trim();
  check(/ha · /.test(figures.list_totals), `the list footer has the totals (${figures.list_totals})`);
  // The rows of "Nouveau", in list order (newest first): the four leads among them.
  const ids = await list
    .locator('[data-list-status="NEW"] li[data-lead-id]')
    .evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-lead-id"))));
  const ours = ids.filter((id) => leads.some((l) => l.id === id));
  check(ours.length === 4, `the four leads are listed (${ids})`);
  const [first, , third] = ours;
  const range = ids.slice(ids.indexOf(first), ids.indexOf(third) + 1);
  const row = (id) => list.locator(`li[data-lead-id="${id}"]`).getByRole("checkbox");
  await row(first).click();
  await row(third).click({ modifiers: ["Shift"] });
  await page.getByTestId("bulk-count").waitFor();
  const count = (await page.getByTestId("bulk-count").textContent()).trim();
  check(count === `${range.length} leads sélectionnés`, `shift-click selects the range (${count})`);
  await axe(page, "bulk-bar");
  await shot(page, "03-bulk-selected", "Three rows selected (click, shift-click): the bulk bar");
  await page.getByLabel("Responsable des leads sélectionnés").selectOption({ label: "Alice Admin" });
  await page.getByRole("button", { name: "Assigner", exact: true }).click();
  await page.getByText(`${range.length} leads assignés`).first().waitFor();
  await page.getByTestId("bulk-bar").waitFor({ state: "detached" });
  const admin = (await apiCall(page, "GET", "/api/users?page_size=200")).body.items.find((u) => u.email === USERS.ADMIN);
  for (const id of range) {
    const lead = await apiCall(page, "GET", `/api/leads/${id}`);
    check(lead.body.assignee_id === admin.id, `lead ${id} is assigned to the admin (${lead.body.assignee_id})`);
  }
  figures.bulk_assigned = range.length;
  await shot(page, "04-bulk-done", "The three leads assigned to Alice Admin");
  await page.goto(`${BASE}/pipeline?view=board`);
  await page.getByTestId("totals-NEW").waitFor();
  figures.kanban_totals_new = (await page.getByTestId("totals-NEW").textContent()).trim();
  await axe(page, "kanban-totals");

  // 4. The same on a 390×844 phone: the list (the default there) with a row selected and the
  //    bell open, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE}/pipeline`);
  await page.getByTestId("lead-list").waitFor();
  await row(ours[3]).click();
  await page.getByTestId("bulk-bar").waitFor();
  await bell.click();
  await page.getByRole("region", { name: "Notifications" }).waitFor();
  const { doc, width } = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, width: window.innerWidth }));
  check(doc <= width + 1, `390 px: the page is ${doc} px wide`);
  await axe(page, "team-390");
  await shot(page, "05-team-390", "A phone: the list with a row selected (bulk bar) and the bell open");
  check(pageErrors.length === 0, `no page errors (${pageErrors.join(" | ")})`);
  log("team scenario passed");
  figures.ok = true;
} catch (err) {
  failed = err;
} finally {
  await finish(browser, failed, "figures.json");
}
