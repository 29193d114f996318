// The web session in Debian's Chromium (issue 20): it survives every tab closed and the browser
// restarted (the httpOnly refresh cookie; the access token is in memory only), a pasted lead URL
// lands on the lead, and a session ended by an ADMIN (deactivation) lands on the login page,
// which says why in French.
// Usage: node e2e/session.mjs <base-url>   (E2E_USERS, E2E_PASSWORD, E2E_PARCELS)
// Prints one JSON line of figures at the end; exits non-zero on the first failed step.
import { harness } from "./common.mjs";

const { finish, openBrowser, BASE, PASSWORD, USERS, STEP_TIMEOUT, figures, log, check, shot, axe, login, apiCall } = harness(
  "session",
  { subdir: "session" },
);
const PARCELS = JSON.parse(process.env.E2E_PARCELS ?? "[]");
const OPTIONS = { viewport: { width: 1280, height: 800 }, locale: "fr-FR", timezoneId: "Europe/Paris", bypassCSP: true };

/** Open the lead's URL in a fresh page; the time from navigation to its heading. */
async function openLead(browser, lead, what) {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const t0 = Date.now();
  await page.goto(`${BASE}/leads/${lead.id}`);
  await page.getByRole("heading", { name: lead.name }).waitFor();
  const ms = Date.now() - t0;
  check(new URL(page.url()).pathname === `/leads/${lead.id}`, `${what}: stays on the lead (${page.url()})`);
  check((await page.getByRole("button", { name: "Se connecter" }).count()) === 0, `${what}: no login form`);
  log(`${what}: on the lead in ${ms} ms`);
  return { page, ms };
}

let browser = await openBrowser(OPTIONS);
let failed = null;
const pageErrors = [];
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT);
  await login(page, "OPS");
  const me = await apiCall(page, "GET", "/api/auth/me");
  check(me.status === 200, `me (${me.status})`);
  const created = await apiCall(page, "POST", "/api/leads", { name: "Session 1", parcel_ids: PARCELS.slice(0, 1) });
  check(created.status === 201, `lead created (${created.status}: ${JSON.stringify(created.body)})`);
  const lead = { id: created.body.id, name: "Session 1" };

  // The cookie: httpOnly (the page's scripts can't read it), Secure, SameSite=Strict, for the
  // session path only; the page's storage holds no token.
  const cookies = await browser.cookies(`${BASE}/api/auth/session`);
  const session = cookies.find((c) => c.name === "lfs_refresh");
  check(session, `a session cookie (${JSON.stringify(cookies.map((c) => c.name))})`);
  check(session.httpOnly && session.secure && session.sameSite === "Strict", `cookie flags ${JSON.stringify(session)}`);
  check(session.path === "/api/auth/session" && session.expires > Date.now() / 1000 + 86400, `cookie scope ${JSON.stringify(session)}`);
  const visible = await page.evaluate(() => ({ cookie: document.cookie, storage: JSON.stringify({ ...sessionStorage, ...localStorage }) }));
  check(!visible.cookie.includes("lfs_refresh"), "the page's scripts don't see the cookie");
  check(!/eyJ[\w-]+\.[\w-]+\./.test(visible.storage), "no token in the page's storage");

  // Every tab closed, then the lead's URL pasted in a new one: the lead, not the login page.
  for (const p of browser.pages()) await p.close();
  const first = await openLead(browser, lead, "all tabs closed, new tab");
  figures.new_tab_to_lead_ms = first.ms;
  await shot(first.page, "01-new-tab-on-lead", "Every tab closed, the lead URL pasted in a new tab: the lead, no login");
  await axe(first.page, "session-lead");
  await first.page.reload();
  await first.page.getByRole("heading", { name: lead.name }).waitFor();

  // The browser itself closed and started again on the same profile.
  await browser.close();
  browser = await openBrowser(OPTIONS);
  for (const p of browser.pages()) await p.close();
  const again = await openLead(browser, lead, "browser restarted");
  figures.restart_to_lead_ms = again.ms;
  again.page.on("pageerror", (e) => pageErrors.push(String(e)));

  // An ADMIN deactivates the OPS user (through the API, from outside this browser).
  const admin = await fetch(`${BASE}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: USERS.ADMIN, password: PASSWORD }),
  }).then((r) => r.json());
  const off = await fetch(`${BASE}/api/users/${me.body.id}`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${admin.access_token}` },
  });
  check(off.status === 204, `OPS deactivated (${off.status})`);
  // The OPS page's next request (moving to the pipeline, or one the lead page makes by itself
  // first) ends the session, and says why.
  await again.page
    .getByRole("navigation", { name: "Navigation principale" })
    .getByRole("link", { name: "Pipeline" })
    .click({ timeout: 5000 })
    .catch(() => log("the page left for the login page before the click"));
  await again.page.waitForURL(/\/login/);
  const said = again.page.getByTestId("session-ended");
  await said.getByText(/Ce compte est désactivé/).waitFor();
  await shot(again.page, "02-deactivated", "Deactivated by an ADMIN mid-session: the login page says the account is deactivated");
  await axe(again.page, "session-ended");
  // A reload still says so (the cookie's session refused with the same cause), then the cookie is gone.
  await again.page.goto(`${BASE}/leads/${lead.id}`);
  await again.page.waitForURL(/\/login/);
  await again.page.getByTestId("session-ended").getByText(/Ce compte est désactivé/).waitFor();
  const left = (await browser.cookies(`${BASE}/api/auth/session`)).filter((c) => c.name === "lfs_refresh");
  check(left.length === 0, `the refused cookie is cleared (${JSON.stringify(left)})`);
  check(pageErrors.length === 0, `no page errors: ${pageErrors.join(" | ")}`);
  log("session scenario passed");
} catch (err) {
  failed = err;
}
figures.ok = !failed;
await finish(browser, failed, "session-figures.json");
