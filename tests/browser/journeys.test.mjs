// The product as a person uses it, in a real headless Chromium: every page the journeys touch
// must load without a console error or a CSP violation, and leaves screenshots (desktop 1280 px
// and phone 360 px) under target/e2e/screenshots/. Run by the Rust e2e harness
// (tests/e2e/browser.rs), which starts the stack and passes its URLs in GT_* variables.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { env, launch, watchedContext, assertClean, shoot, signInByEmail, uniqueEmail } from "./browser.mjs";

let browser;
const results = {};

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  writeFileSync(env.results, JSON.stringify(results, null, 2));
});

// Error pages answer with their status on purpose; Chromium logs that status as a console error.
const errorStatusOnPurpose = (text) =>
  /status of (404|429|500|503)/.test(text) && /\/debug\/error\/|\/no\/such\/page/.test(text);

test("a visitor browses every public page, light and dark, on a desktop and a phone", async () => {
  const { context, problems } = await watchedContext(browser, { expected: errorStatusOnPurpose });
  const page = await context.newPage();
  const pages = [
    ["/", "landing", true],
    ["/pricing", "pricing", true],
    ["/signin", "signin", true],
    ["/refer", "refer-visitor", false],
    ["/terms", "terms", false],
    ["/privacy", "privacy", true],
    ["/no/such/page", "error-404", true],
    ["/debug/error/429", "error-429", false],
    ["/debug/error/500", "error-500", false],
    ["/debug/error/503", "error-503", false],
  ];
  for (const [path, name, dark] of pages) {
    const res = await page.goto(env.base + path);
    assert.ok(res, path);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    // Every control has an accessible name: a label, or text.
    const unnamed = await page.$$eval("input:not([type=hidden]), select, textarea, button", (els) =>
      els.filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.textContent.trim())
        .map((el) => el.outerHTML));
    assert.deepEqual(unnamed, [], `${path}: controls without a label`);
    await shoot(page, name, { dark });
  }
  // On a phone the navigation folds behind a Menu button that opens and closes it.
  await page.setViewportSize({ width: 360, height: 780 });
  await page.goto(env.base + "/pricing");
  const menu = page.getByRole("button", { name: "Menu" });
  await menu.waitFor();
  assert.equal(await page.getByRole("link", { name: "Sign in", exact: true }).isVisible(), false);
  await menu.click();
  assert.equal(await menu.getAttribute("aria-expanded"), "true");
  await page.getByRole("link", { name: "Sign in", exact: true }).waitFor();
  await page.screenshot({ path: `${env.shots}/nav-open-phone.png` });
  // No horizontal scrolling at 360 px.
  for (const path of ["/", "/pricing", "/signin", "/terms"]) {
    await page.goto(env.base + path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 360px`);
  }
  // Keyboard users see where they are.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(env.base + "/");
  await page.keyboard.press("Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused element has a visible outline");
  await context.close();
  assertClean(problems);
});

test("the watch itself catches a CSP violation and a console error (so the other tests can fail)", async () => {
  const { context, problems } = await watchedContext(browser);
  const page = await context.newPage();
  await page.goto(env.base + "/terms");
  await page.evaluate(() => {
    const img = document.createElement("img");
    img.src = "http://203.0.113.9/tracker.png"; // not allowed by img-src
    document.body.append(img);
    console.error("deliberate");
  });
  await page.waitForTimeout(300);
  await context.close();
  assert.ok(problems.some((p) => p.includes("CSP violation") && p.includes("img-src")), problems.join("\n"));
  assert.ok(problems.some((p) => p.includes("console error: deliberate")), problems.join("\n"));
});

test("a referred visitor signs up by magic link, buys a plan, opens the portal and signs out", async () => {
  const { context, problems } = await watchedContext(browser);
  const page = await context.newPage();
  const email = uniqueEmail("journey");
  results.email = email;

  // Arrives through an affiliate's link: Rewardful's script (the fake) records the referral.
  await page.goto(`${env.base}/?via=${env.referralToken}`);
  await page.waitForFunction(() => window.Rewardful && window.Rewardful.referral);
  const referral = await page.evaluate(() => window.Rewardful.referral);
  results.referral = referral;

  await signInByEmail(page, email);
  assert.equal(new URL(page.url()).pathname, "/dashboard");
  assert.equal(await page.locator("#balance").textContent(), "0");
  assert.equal(await page.locator("#plan").textContent(), "Free");
  await shoot(page, "dashboard-new", { dark: true });

  // Pricing: the checkout forms carry the referral; Stripe's page redirects back after paying.
  await page.goto(`${env.base}/pricing`);
  await page.waitForFunction(
    (r) => [...document.querySelectorAll('input[name="referral"]')].every((i) => i.value === r), referral);
  await shoot(page, "pricing-signed-in");
  await page.getByRole("button", { name: "Subscribe to Starter" }).click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  results.session_id = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.waitForURL(/\/billing\/success\?session_id=/);
  await page.getByRole("heading", { name: "Thank you!" }).waitFor();
  assert.equal(await page.locator("#balance").textContent(), "100");
  await shoot(page, "checkout-success");

  await page.goto(`${env.base}/dashboard`);
  assert.equal(await page.locator("#plan").textContent(), "Starter");
  assert.equal(await page.locator("#balance").textContent(), "100");
  await shoot(page, "dashboard-starter", { dark: true });

  // Refer & earn: joins the programme and sees the link.
  await page.goto(`${env.base}/refer`);
  await page.getByLabel("First name").fill("Jo");
  await page.getByLabel("Last name").fill("Journey");
  await page.getByRole("button", { name: "Join Refer & earn" }).click();
  await page.locator("#flash").waitFor();
  const link = await page.getByLabel("Your referral link").inputValue();
  assert.ok(link.startsWith(`${env.base}/?via=`), link);
  await shoot(page, "refer-affiliate", { dark: true });

  // Billing, then Stripe's portal and back.
  await page.goto(`${env.base}/billing`);
  assert.equal(await page.locator("#plan").textContent(), "Starter");
  await shoot(page, "billing", { dark: true });
  await page.getByRole("button", { name: "Manage subscription" }).click();
  await page.waitForURL(/\/portal\/bps_/);
  await page.getByRole("link", { name: "Return" }).click();
  await page.waitForURL(`${env.base}/billing`);

  await page.goto(`${env.base}/account`);
  await shoot(page, "account", { dark: true });

  // Signs out from the phone menu; a flash message says so.
  await page.setViewportSize({ width: 360, height: 780 });
  await page.getByRole("button", { name: "Menu" }).click();
  await shoot(page, "nav-signed-in");
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await page.waitForURL(`${env.base}/`);
  assert.equal((await page.locator("#flash").textContent()).trim(), "You are signed out.");
  await shoot(page, "signed-out-flash");
  await page.goto(`${env.base}/dashboard`);
  assert.match(page.url(), /\/signin\?next=%2Fdashboard/);
  await context.close();
  assertClean(problems);
});

test("the operator finds the new customer and grants credits with a reason", async () => {
  assert.ok(results.email, "runs after the sign-up journey");
  const { context, problems } = await watchedContext(browser);
  const page = await context.newPage();
  await signInByEmail(page, env.adminEmail);
  await page.goto(`${env.base}/admin`);
  await page.getByLabel("Search by email").fill(results.email);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator("#users tbody tr", { hasText: results.email });
  await row.waitFor();
  assert.match(await row.textContent(), /Starter/);
  await row.getByRole("link", { name: /Grant credits/ }).click();
  assert.equal(await page.getByLabel("Account email").inputValue(), results.email);
  await page.getByLabel("Credits").fill("5");
  await page.getByLabel("Reason (goes in the ledger)").fill("Browser test goodwill");
  await page.getByRole("button", { name: "Grant credits" }).click();
  await page.locator("#flash").waitFor();
  assert.match(await page.locator("#flash").textContent(), /Credits added: 5/);
  await shoot(page, "admin", { dark: true });
  await context.close();
  assertClean(problems);
});

// The tools journeys: enabled by the lead once AgentWrite and PodScribe are merged
// (GT_BROWSER_TOOLS=1). Each follows the same pattern: watchedContext, sign in, act, shoot,
// assertClean.
test("a customer generates a product description and watches it stream", { skip: !process.env.GT_BROWSER_TOOLS }, async () => {
  // TODO(tools merge): open /tools/agentwrite, fill the brief, press Generate, wait until the
  // output region has grown at least twice (streaming), then until it is done; shoot
  // "agentwrite"; assert the balance dropped by the shown price.
  assert.fail("enable after the tools merge");
});

test("a customer transcribes a small audio file and downloads the SRT", { skip: !process.env.GT_BROWSER_TOOLS }, async () => {
  // TODO(tools merge): open /tools/podscribe, setInputFiles with a small generated WAV, watch
  // the upload progress and the "transcribing" state, then page.waitForEvent("download") on
  // "Download SRT" and check it starts with "1\n00:00:"; shoot "podscribe".
  assert.fail("enable after the tools merge");
});
