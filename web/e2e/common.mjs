// What every browser scenario (run.mjs, daily.mjs, prospection.mjs) shares: the server and users
// from the command line and environment, the artifacts folder, a Chromium profile, and the steps
// written once — log in and out, the API through the page's session, screenshots, axe-core.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

/**
 * The harness of one scenario. `tag` names its log lines and Chromium profile; `subdir` puts its
 * screenshots in a folder of the artifacts; `fullPage` takes whole-page screenshots.
 */
export function harness(tag, { subdir = "", fullPage = false } = {}) {
  const BASE = (process.argv[2] ?? "http://127.0.0.1:8000").replace(/\/$/, "");
  const PASSWORD = process.env.E2E_PASSWORD ?? "correct-horse-battery";
  const USERS = {
    ADMIN: "admin@lfs.test",
    MANAGER: "manager@lfs.test",
    OPS: "ops@lfs.test",
    COMMERCIAL: "sales@lfs.test",
    ...JSON.parse(process.env.E2E_USERS ?? "{}"),
  };
  const ARTIFACTS = resolve(process.env.E2E_ARTIFACTS ?? join(here, "../../test-artifacts/web"), subdir);
  const STEP_TIMEOUT = 15_000;
  const figures = { screenshots: [], axe: {} };
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), `lfs-e2e-${tag}-`));
  let axeSource = null;

  function log(msg) {
    process.stderr.write(`[${tag}] ${msg}\n`);
  }

  function check(cond, msg) {
    if (!cond) throw new Error(`check failed: ${msg}`);
  }

  async function shot(page, name, what) {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
    figures.screenshots.push({ file: subdir ? `${subdir}/${name}.png` : `${name}.png`, what });
  }

  /** axe-core on the page as it is: no serious or critical violation (WCAG 2.x A/AA rules).
   * `strict: false` records them without failing (a page another team is still building). */
  async function axe(page, name, { strict = true } = {}) {
    axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
    await page.evaluate(axeSource);
    const result = await page.evaluate(async (tags) => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")} — ${n.failureSummary?.split("\n")[1] ?? ""}`),
      }));
    }, AXE_TAGS);
    const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
    figures.axe[name] = { serious_or_critical: bad.length, other: result.length - bad.length, ids: result.map((v) => v.id), strict };
    if (!strict) {
      if (bad.length) log(`axe ${name} (not enforced): ${JSON.stringify(bad)}`);
      return;
    }
    check(bad.length === 0, `axe on ${name}: ${JSON.stringify(bad, null, 1)}`);
    log(`axe ${name}: 0 serious/critical (${result.length} minor: ${result.map((v) => v.id).join(", ") || "none"})`);
  }

  async function login(page, role, email = USERS[role]) {
    await page.goto(`${BASE}/login`);
    await page.getByLabel("Adresse e-mail").fill(email);
    await page.getByLabel("Mot de passe").fill(PASSWORD);
    await page.getByRole("button", { name: "Se connecter" }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/login"), { timeout: STEP_TIMEOUT });
    await page.getByTestId("current-user").waitFor({ state: "attached" });
    log(`logged in as ${role}`);
  }

  async function logout(page) {
    await page.getByRole("button", { name: "Se déconnecter" }).click();
    await page.waitForURL(/\/login/, { timeout: STEP_TIMEOUT });
  }

  /** An access token of the page's session: its httpOnly cookie exchanged as the app does it
   * (under the app's Web Lock: each cookie is used once). The app's own token is in memory. */
  async function pageToken(page) {
    return page.evaluate(async () => {
      const send = () => fetch("/api/auth/session", { method: "POST", credentials: "same-origin" });
      const res = navigator.locks ? await navigator.locks.request("lfs-session-refresh", send) : await send();
      if (!res.ok) throw new Error(`no session in this page (HTTP ${res.status})`);
      return (await res.json()).access_token;
    });
  }

  /** The API through the page's own session (a token of the same session as the app's). */
  async function apiCall(page, method, path, body) {
    const token = await pageToken(page);
    return page.evaluate(
      async ({ method, path, body, token }) => {
        const res = await fetch(path, {
          method,
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json().catch(() => null) };
      },
      { method, path, body, token },
    );
  }

  /** Debian's Chromium, headless, with this scenario's profile; `options` adds the viewport etc. */
  function openBrowser(options) {
    return chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      ...options,
    });
  }

  /** The scenario's end: the browser closed, its profile removed, the figures written to
   * `figuresFile` and printed as the last line; exit 1 after a failed step. */
  /** Close the browser and write the figures; on failure, the error in the figures and a
   * screenshot of each open page (`failureShot`, then `-1`, `-2`… before the extension). */
  async function finish(browser, failed, figuresFile, failureShot = "failure.png") {
    if (failed) {
      figures.ok = false;
      figures.error = String(failed?.stack ?? failed);
      try {
        for (const [i, p] of browser.pages().entries()) {
          const name = i ? failureShot.replace(/\.png$/, `-${i}.png`) : failureShot;
          await p.screenshot({ path: join(ARTIFACTS, name), fullPage });
        }
      } catch {
        // no screenshot of a dead page
      }
    }
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    writeFileSync(join(ARTIFACTS, figuresFile), JSON.stringify(figures, null, 2));
    process.stdout.write(JSON.stringify(figures) + "\n");
    if (failed) {
      log(`FAILED: ${failed}`);
      process.exit(1);
    }
  }

  return { finish, openBrowser, BASE, PASSWORD, USERS, ARTIFACTS, STEP_TIMEOUT, figures, profile, log, check, shot, axe, login, logout, apiCall, pageToken };
}
