// `make dev` on a fresh machine with no keys: the whole product through the local stand-ins of
// Stripe, OpenAI and Google, in a real headless Chromium, under the console-error and CSP watch,
// with screenshots, all offline: a request to any host off this machine fails the journey. Run by tests/e2e/dev_standins.rs, which starts scripts/dev.sh itself (the
// sign-in mail is read from its maildev inbox: GT_MAILDEV_URL).
import { test } from "node:test";
import assert from "node:assert/strict";
import { env, journeysSharingOneBrowser, watchedContext, assertClean, shoot, signInByEmail, uniqueEmail, wav, onThisMachine, visit } from "./browser.mjs";

const results = {};
journeysSharingOneBrowser(results);

// The watch for requests off this machine knows one when it sees one.
assert.ok(onThisMachine("http://localhost:8787/") && onThisMachine("http://127.0.0.1:12111/x") && onThisMachine("data:,x"));
assert.ok(!onThisMachine("https://api.stripe.com/v1") && !onThisMachine("http://192.0.2.1/") && !onThisMachine("wss://example.com"));

// The 404 page answers with its status on purpose; Chromium logs that as a console error.
const notFoundOnPurpose = (text) => /status of 404/.test(text) && /\/no\/such\/page/.test(text);
const BANNER = /Local stand-ins:.*Stripe, OpenAI and Google sign-in/s;

/// Opens `path` and checks it carries the "local stand-ins" banner.
async function bannerOn(page, path, status = 200) {
  const res = await visit(page, env.base + path);
  assert.equal(res.status(), status, path);
  assert.match(await page.locator("#standins").textContent(), BANNER, `${path} says these are stand-ins`);
}

const balance = async (page) => Number(await page.locator("#balance").textContent());

/// Reloads `path` until `locator` says `text` (webhooks arrive a moment after the redirect).
async function until(page, path, selector, text) {
  const deadline = Date.now() + 20000;
  for (;;) {
    await visit(page, env.base + path);
    const now = (await page.locator(selector).textContent().catch(() => "")) || "";
    if (now.includes(text)) return now;
    assert.ok(Date.now() < deadline, `${path} ${selector} never said "${text}" (last: "${now}")`);
    await page.waitForTimeout(500);
  }
}

test("a newcomer signs in, buys a pack, writes, transcribes, subscribes, switches plan and cancels, all on local stand-ins", async () => {
  const { context, problems } = await watchedContext({ expected: notFoundOnPurpose, offline: true });
  const page = await context.newPage();
  const email = uniqueEmail("newcomer");
  results.email = email;

  // Every page says these are stand-ins, so nobody mistakes this for production.
  await bannerOn(page, "/");
  await shoot(page, "landing-standins");

  await signInByEmail(page, email);
  assert.equal(new URL(page.url()).pathname, "/dashboard");
  for (const path of ["/pricing", "/tools/agentwrite"]) await bannerOn(page, path);
  await bannerOn(page, "/no/such/page", 404);
  await bannerOn(page, "/dashboard");
  const start = await balance(page);

  // A pack through the stand-in checkout: a declined card first, then one that pays.
  await visit(page, `${env.base}/pricing`);
  await page.getByRole("button", { name: /^Buy \d+ credits$/ }).first().click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  await page.getByLabel("Card number").fill("4000 0000 0000 0002");
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "Your card was declined" }).waitFor();
  await shoot(page, "checkout-declined");
  await page.getByLabel("Card number").fill("4242 4242 4242 4242");
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.waitForURL(/\/billing\/success\?session_id=/);
  await page.getByRole("heading", { name: "Thank you!" }).waitFor();
  await shoot(page, "pack-bought");
  const afterPack = Number(await until(page, "/dashboard", "#balance", String(start + 50)));
  assert.equal(afterPack, start + 50, "the pack's 50 credits");

  // A second pack by bank transfer: processing at first, credited when the transfer clears.
  await visit(page, `${env.base}/pricing`);
  await page.getByRole("button", { name: /^Buy \d+ credits$/ }).first().click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  await page.getByRole("button", { name: "Pay by bank transfer" }).click();
  await page.getByRole("heading", { name: "Payment processing" }).waitFor();
  await shoot(page, "pack-processing");
  assert.equal(Number(await until(page, "/dashboard", "#balance", String(start + 100))), start + 100);

  // AgentWrite streams a description written from the brief.
  await visit(page, `${env.base}/tools/agentwrite`);
  await page.getByLabel("Product name").fill("Lumen desk lamp");
  await page.getByLabel("Key features").fill("Warm light that never flickers\nFolds flat for travel");
  await page.getByLabel("Who is it for?").fill("Students who study late");
  await page.getByRole("button", { name: /Write description/ }).click();
  await page.locator("#aw-status", { hasText: "Done" }).waitFor({ timeout: 30000 });
  assert.match(await page.locator("#aw-title").textContent(), /Lumen desk lamp/);
  assert.match(await page.locator("main").innerText(), /Warm light that never flickers/);
  await shoot(page, "agentwrite-standin");

  // PodScribe transcribes an episode into segments.
  await visit(page, `${env.base}/tools/podscribe`);
  await page.getByLabel(/Episode/).setInputFiles({ name: "first-episode.wav", mimeType: "audio/wav", buffer: wav(25) });
  await page.getByRole("button", { name: "Upload and transcribe" }).click();
  await page.waitForURL(/\/tools\/podscribe\/[0-9a-f]{32}$/, { timeout: 30000 });
  await page.locator('#ps-status[data-status="done"]').waitFor({ timeout: 30000 });
  assert.match(await page.locator("main").innerText(), /Welcome to the show/);
  await shoot(page, "transcript-standin");

  // Subscribing: a change of mind first (cancel on the checkout page), then Starter.
  await visit(page, `${env.base}/pricing`);
  await page.getByRole("button", { name: "Subscribe to Pro" }).click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  await shoot(page, "checkout-subscription");
  await page.getByRole("link", { name: /Cancel and go back/ }).click();
  await page.waitForURL((u) => u.origin === new URL(env.base).origin);
  await visit(page, `${env.base}/pricing`);
  await page.getByRole("button", { name: "Subscribe to Starter" }).click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.waitForURL(/\/billing\/success\?session_id=/);
  await until(page, "/billing", "#plan", "Starter");

  // Switches to Pro in the portal; back on the site, the billing page says Pro.
  await page.getByRole("button", { name: "Manage subscription" }).click();
  await page.waitForURL(/\/portal\/bps_/);
  await shoot(page, "portal");
  await page.getByRole("button", { name: /^Switch to Pro\b/ }).click();
  await page.getByRole("button", { name: /^Switch to Starter\b/ }).waitFor();
  await page.getByRole("link", { name: /Return to the site/ }).click();
  await page.waitForURL(`${env.base}/billing`);
  await until(page, "/billing", "#plan", "Pro");

  // Cancels in the portal; the billing page then says when the plan ends.
  await page.getByRole("button", { name: "Manage subscription" }).click();
  await page.waitForURL(/\/portal\/bps_/);
  await page.getByRole("button", { name: "Cancel plan" }).click();
  await page.getByText(/Cancels on \d{4}-\d\d-\d\d/).waitFor();
  await shoot(page, "portal-canceled");
  await page.getByRole("link", { name: /Return to the site/ }).click();
  await page.waitForURL(`${env.base}/billing`);
  await until(page, "/billing", "#period", "Ends on");
  await shoot(page, "billing-canceled");
  await context.close();
  assertClean(problems);
});

test("a newcomer signs in through the Google stand-in's account chooser", async () => {
  const { context, problems } = await watchedContext({ offline: true });
  const page = await context.newPage();
  const email = uniqueEmail("google-newcomer");
  results.google_email = email;
  await visit(page, `${env.base}/signin`);
  await page.getByRole("button", { name: "Continue with Google" }).click();
  await page.getByRole("heading", { name: "Sign in with Google" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await shoot(page, "google-standin");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${env.base}/dashboard`);
  await visit(page, `${env.base}/account`);
  assert.match(await page.locator("main").innerText(), new RegExp(email.replace(/[.]/g, "\\.")));
  await context.close();
  assertClean(problems);
});
