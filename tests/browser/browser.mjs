// Shared by the browser journeys: one headless Chromium (Debian's, driven by playwright-core),
// a watch on every page for console errors and CSP violations, screenshots at desktop
// (1280 px) and phone (360 px) widths, light and dark, and an axe-core audit of every page
// shot, light and dark, that fails on any WCAG 2.2 A/AA violation.
import { chromium } from "playwright-core";
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

export const env = {
  base: need("GT_BASE_URL"),
  mailbox: need("GT_MAILBOX_URL"),
  shots: need("GT_SCREENSHOT_DIR"),
  chromium: process.env.GT_CHROMIUM || "/usr/bin/chromium",
  adminEmail: need("GT_ADMIN_EMAIL"),
  referralToken: need("GT_REFERRAL_TOKEN"),
  results: need("GT_RESULTS_FILE"),
  // `make dev`'s inbox (maildev's web address): sign-in links are read from it instead.
  maildev: process.env.GT_MAILDEV_URL,
};

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the Rust e2e harness sets it: cargo test --test e2e -- browser)`);
  return v;
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 360, height: 780 };

export async function launch() {
  return chromium.launch({
    executablePath: env.chromium,
    headless: true,
    // Playwright gives each launch a fresh, empty profile (its own --user-data-dir).
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

let browser;

/// One Chromium for the journeys of a file, closed after them; then `results` (what the
/// journeys did, for the Rust side to check) is written to GT_RESULTS_FILE.
export function journeysSharingOneBrowser(results) {
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    results.audits = audits;
    results.axeRules = axeRules;
    results.axeIncomplete = axeIncomplete;
    results.stalledLoads = stalledLoads;
    writeFileSync(env.results, JSON.stringify(results, null, 2));
  });
}

/// A fresh browser context (its own cookies) whose pages are watched: every console error and
/// every CSP violation is kept in `problems` (a test asserts it is empty at the end).
/// `expected(msg)` may excuse console errors a journey causes on purpose (an error page's status).
/// `offline`: every request a page makes to a host off this machine is a problem too.
export async function watchedContext({ expected = () => false, offline = false } = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, colorScheme: "light" });
  const problems = [];
  if (offline) {
    context.on("request", (req) => {
      if (!onThisMachine(req.url())) problems.push(`request off this machine: ${req.method()} ${req.url()}`);
    });
  }
  await context.exposeBinding("__gtCspViolation", (_source, v) => {
    problems.push(`CSP violation on ${v.page}: ${v.directive} blocked ${v.blocked || "(inline)"} ${v.sample || ""}`);
  });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__gtCspViolation({
        page: location.href, directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample,
      });
    });
  });
  context.on("page", (page) => watchPage(page, problems, expected));
  return { context, problems };
}

/// data:, blob: and about: stay in the browser; http(s) and ws(s) must reach loopback only.
export function onThisMachine(url) {
  const u = new URL(url);
  if (!/^(https?|wss?):$/.test(u.protocol)) return true;
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(u.hostname);
}

function watchPage(page, problems, expected) {
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const where = msg.location()?.url || page.url();
    const text = `${msg.text()} (at ${where})`;
    if (!expected(text)) problems.push(`console error: ${text}`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception on ${page.url()}: ${err.message}`));
}

const stalledLoads = [];
/// `page.goto(url)`, loaded again once if its load stalls for 30 s, as a person would reload.
/// Local `wrangler dev` has held a static asset (the brand image, since inlined) for a whole
/// minute while the suite loaded the machine; production serves assets from Cloudflare's cache.
/// Each reload is written to the results and printed by the Rust side, so none goes unseen.
export async function visit(page, url) {
  try {
    return await page.goto(url, { timeout: 30000 });
  } catch (e) {
    if (e.name !== "TimeoutError") throw e;
    stalledLoads.push(url);
    console.error(`the load of ${url} stalled for 30 s; loading it again`);
    return await page.goto(url, { timeout: 60000 });
  }
}

export function assertClean(problems) {
  assert.deepEqual(problems, [], `the browser reported problems:\n${problems.join("\n")}`);
}

// axe-core, pinned in package.json (installed by `make setup`'s npm ci).
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/// WCAG 2.0, 2.1 and 2.2 at levels A and AA.
export const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
let audits = 0;
let axeRules = 0;
const axeIncomplete = {};

/// Runs axe-core on the page as it is, in the light and the dark color scheme, at desktop and
/// phone width, and fails with every violation: its rule id, what it means, and each node
/// (selector and markup). What axe could not decide (`incomplete`, e.g. contrast over an image)
/// is listed per rule in `axeIncomplete` (page: node) for the report, not failed.
/// axe is evaluated through the DevTools protocol (`page.evaluate`), which the page's CSP does
/// not govern, so the CSP stays on (a <script> tag of it would be refused) and the watch with it.
export async function audit(page, name) {
  const found = [];
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [width, size] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      await page.setViewportSize(size);
      if (!(await page.evaluate(() => typeof window.axe === "object"))) {
        await page.evaluate(AXE_SOURCE);
      }
      const result = await page.evaluate((tags) => window.axe.run(document, {
        runOnly: { type: "tag", values: tags },
        resultTypes: ["violations", "incomplete"],
      }), WCAG_TAGS);
      for (const v of result.violations) {
        for (const n of v.nodes) {
          found.push(`${name} (${scheme}, ${width}) ${v.id} [${v.impact}]: ${v.help}\n    at ${n.target.join(" ")}: ${n.html.slice(0, 240)}\n    ${(n.failureSummary || "").replace(/\n/g, " ")}`);
        }
      }
      for (const i of result.incomplete) {
        const seen = (axeIncomplete[i.id] ||= []);
        for (const n of i.nodes) {
          const where = `${name}: ${n.target.join(" ")}`;
          if (!seen.includes(where)) seen.push(where);
        }
      }
      axeRules = Math.max(axeRules, result.passes.length + result.violations.length + result.incomplete.length + result.inapplicable.length);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(DESKTOP);
  audits++;
  assert.deepEqual(found, [], `axe-core: WCAG 2.2 AA violations on ${page.url()}:\n${found.join("\n")}`);
}

export function auditsRun() {
  return audits;
}

let shotCount = 0;
/// Screenshots of the page at desktop and phone width (and dark, when asked), full page, after
/// an accessibility audit of it (light and dark, always).
export async function shoot(page, name, { dark = false } = {}) {
  await audit(page, name);
  mkdirSync(env.shots, { recursive: true });
  const schemes = dark ? ["light", "dark"] : ["light"];
  for (const scheme of schemes) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      await page.setViewportSize(size);
      // Nothing may make the page scroll sideways (at 360 px especially).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at ${size.width}px`);
      const suffix = scheme === "dark" ? `${label}-dark` : label;
      await page.screenshot({ path: join(env.shots, `${name}-${suffix}.png`), fullPage: true });
      shotCount++;
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(DESKTOP);
}

export function screenshotsTaken() {
  return shotCount;
}

/// The sign-in link the SMTP sink received for `email` (the harness's mailbox endpoint waits
/// for it).
export async function signInLink(email) {
  if (env.maildev) return maildevLink(email);
  const res = await fetch(`${env.mailbox}/link?to=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200, `no sign-in mail reached ${email}`);
  return (await res.text()).trim();
}

/// The link in the newest mail maildev (the inbox of `make dev`) holds for `email`, through
/// its REST API; waits up to 15 s for one.
async function maildevLink(email) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const mails = await (await fetch(`${env.maildev}/api/email`)).json();
    const mail = mails.filter((m) => (m.to || []).some((t) => (t.address || t) === email)).pop();
    const link = mail?.text?.match(/https?:\/\/\S+/)?.[0];
    if (link) return link;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`no sign-in mail reached ${email} in maildev`);
}

/// Signs in through the real form and the emailed link; ends on the page `next` leads to.
export async function signInByEmail(page, email) {
  await visit(page, `${env.base}/signin`);
  await page.getByLabel("Email address").fill(email);
  await page.getByRole("button", { name: "Email me a sign-in link" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await auditOnce(page, "check-email");
  const link = await signInLink(email);
  assert.ok(link.startsWith(env.base), `the link is on the site: ${link}`);
  await visit(page, link);
  await auditOnce(page, "confirm-sign-in");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  try {
    await page.waitForURL((u) => !u.pathname.startsWith("/signin"), { timeout: 15000 });
  } catch (e) {
    const text = await page.locator("main").innerText().catch(() => "");
    throw new Error(`signing in as ${email} stopped at ${page.url()}: ${text.slice(0, 400)}`);
  }
}

const audited = new Set();
/// `audit`, once per journey file for pages every journey passes through (signing in).
async function auditOnce(page, name) {
  if (audited.has(name)) return;
  audited.add(name);
  await audit(page, name);
}

export function uniqueEmail(prefix) {
  return `${prefix}.${process.pid}.${Date.now()}@example.test`;
}

/// A small WAV file (8 kHz, 8-bit mono silence) of `secs` seconds.
export function wav(secs) {
  const rate = 8000, data = rate * secs;
  const b = Buffer.alloc(44 + data, 128);
  b.write("RIFF", 0); b.writeUInt32LE(36 + data, 4); b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate, 28); b.writeUInt16LE(1, 32); b.writeUInt16LE(8, 34);
  b.write("data", 36); b.writeUInt32LE(data, 40);
  return b;
}
