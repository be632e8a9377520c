// The product as a person uses it, in a real headless Chromium: every page the journeys touch
// must load without a console error or a CSP violation, and leaves screenshots (desktop 1280 px
// and phone 360 px) under target/e2e/screenshots/. Run by the Rust e2e harness
// (tests/e2e/browser.rs), which starts the stack and passes its URLs in GT_* variables.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { env, journeysSharingOneBrowser, watchedContext, assertClean, shoot, audit, signInByEmail, signInLink, uniqueEmail, wav, visit } from "./browser.mjs";

const results = {};
journeysSharingOneBrowser(results);

// Error pages answer with their status on purpose; Chromium logs that status as a console error.
const errorStatusOnPurpose = (text) =>
  /status of (404|429|500|503)/.test(text) && /\/debug\/error\/|\/no\/such\/page/.test(text);

test("a visitor browses every public page, light and dark, on a desktop and a phone", async () => {
  const { context, problems } = await watchedContext({ expected: errorStatusOnPurpose });
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
    const res = await visit(page, env.base + path);
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
  await visit(page, env.base + "/pricing");
  const menu = page.getByRole("button", { name: "Menu" });
  await menu.waitFor();
  assert.equal(await page.getByRole("link", { name: "Sign in", exact: true }).isVisible(), false);
  await menu.click();
  assert.equal(await menu.getAttribute("aria-expanded"), "true");
  await page.getByRole("link", { name: "Sign in", exact: true }).waitFor();
  await page.screenshot({ path: `${env.shots}/nav-open-phone.png` });
  // No horizontal scrolling at 360 px.
  for (const path of ["/", "/pricing", "/signin", "/terms"]) {
    await visit(page, env.base + path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 360px`);
  }
  // Keyboard users see where they are.
  await page.setViewportSize({ width: 1280, height: 900 });
  await visit(page, env.base + "/");
  await page.keyboard.press("Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused element has a visible outline");
  await context.close();
  assertClean(problems);
});

test("the watch itself catches a CSP violation and a console error (so the other tests can fail)", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await visit(page, env.base + "/terms");
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

test("the accessibility audit itself fails with the rule and the node (so the other tests can fail)", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await visit(page, env.base + "/terms");
  await page.evaluate(() => {
    const b = document.createElement("button");
    b.className = "deliberately-unnamed";
    document.querySelector("main").append(b);
  });
  await assert.rejects(audit(page, "terms-broken"), (e) => {
    assert.match(e.message, /terms-broken \(light, desktop\) button-name/);
    assert.match(e.message, /terms-broken \(dark, phone\) button-name/);
    assert.match(e.message, /deliberately-unnamed/);
    return true;
  });
  await context.close();
  assertClean(problems);
});

test("a referred visitor signs up by magic link, buys a plan, opens the portal and signs out", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  const email = uniqueEmail("journey");
  results.email = email;

  // Arrives through an affiliate's link: Rewardful's script (the fake) records the referral.
  await visit(page, `${env.base}/?via=${env.referralToken}`);
  await page.waitForFunction(() => window.Rewardful && window.Rewardful.referral);
  const referral = await page.evaluate(() => window.Rewardful.referral);
  results.referral = referral;

  await signInByEmail(page, email);
  assert.equal(new URL(page.url()).pathname, "/dashboard");
  assert.equal(await page.locator("#balance").textContent(), "0");
  assert.equal(await page.locator("#plan").textContent(), "Free");
  await shoot(page, "dashboard-new", { dark: true });

  // Pricing: the checkout forms carry the referral; Stripe's page redirects back after paying.
  await visit(page, `${env.base}/pricing`);
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

  await visit(page, `${env.base}/dashboard`);
  assert.equal(await page.locator("#plan").textContent(), "Starter");
  assert.equal(await page.locator("#balance").textContent(), "100");
  await shoot(page, "dashboard-starter", { dark: true });

  // Refer & earn: joins the programme and sees the link.
  await visit(page, `${env.base}/refer`);
  await page.getByLabel("First name").fill("Jo");
  await page.getByLabel("Last name").fill("Journey");
  await page.getByRole("button", { name: "Join Refer & earn" }).click();
  await page.locator("#flash").waitFor();
  const link = await page.getByLabel("Your referral link").inputValue();
  assert.ok(link.startsWith(`${env.base}/?via=`), link);
  await shoot(page, "refer-affiliate", { dark: true });

  // Billing, then Stripe's portal and back.
  await visit(page, `${env.base}/billing`);
  assert.equal(await page.locator("#plan").textContent(), "Starter");
  await shoot(page, "billing", { dark: true });
  await page.getByRole("button", { name: "Manage subscription" }).click();
  await page.waitForURL(/\/portal\/bps_/);
  await page.getByRole("link", { name: "Return" }).click();
  await page.waitForURL(`${env.base}/billing`);

  await visit(page, `${env.base}/account`);
  await shoot(page, "account", { dark: true });

  // Signs out from the phone menu; a flash message says so.
  await page.setViewportSize({ width: 360, height: 780 });
  await page.getByRole("button", { name: "Menu" }).click();
  await shoot(page, "nav-signed-in");
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await page.waitForURL(`${env.base}/`);
  assert.equal((await page.locator("#flash").textContent()).trim(), "You are signed out.");
  await shoot(page, "signed-out-flash");
  await visit(page, `${env.base}/dashboard`);
  assert.match(page.url(), /\/signin\?next=%2Fdashboard/);
  await context.close();
  assertClean(problems);
});

test("the operator finds the new customer and grants credits with a reason", async () => {
  assert.ok(results.email, "runs after the sign-up journey");
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await signInByEmail(page, env.adminEmail);
  await visit(page, `${env.base}/admin`);
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
  // The customer's own page: their ledger shows the grant, and the audit log names it.
  await page.locator("#users tbody tr", { hasText: results.email }).getByRole("link", { name: /^Account/ }).click();
  await page.getByRole("heading", { level: 1, name: results.email }).waitFor();
  assert.match(await page.locator("main").innerText(), /Browser test goodwill/);
  await shoot(page, "admin-user", { dark: true });
  await context.close();
  assertClean(problems);
});

// The tools, as the customer who bought a plan above uses them.

test("a customer generates a product description and watches it stream", async () => {
  assert.ok(results.email, "runs after the sign-up journey (the customer has credits)");
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await signInByEmail(page, results.email);
  await visit(page, `${env.base}/tools/agentwrite`);
  const before = Number(await page.locator("#aw-balance").textContent());
  // "slow": the fake OpenAI writes its pieces 300 ms apart, so the page can be seen growing.
  await page.getByLabel("Product name").fill(`TrailLite 2 fake-chat-slow-${process.pid}${Date.now()}`);
  await page.getByLabel("Key features").fill("1.1 kg\nSets up in 3 minutes\nTwo doors");
  await page.getByLabel("Who is it for?").fill("Backpackers who count every gram");
  await page.getByRole("button", { name: /Write description/ }).click();
  const live = page.locator("#aw-live");
  // The text grows while it is written: seen at least three different lengths before the end,
  // formatted as it arrives (the title a heading), never with the raw TITLE:/DESCRIPTION: lines.
  const lengths = new Set();
  const raw = [];
  let headed = false;
  const deadline = Date.now() + 20000;
  while (lengths.size < 3 && Date.now() < deadline) {
    const text = (await live.isVisible()) ? await live.textContent() : "";
    if (text.length > 0) lengths.add(text.length);
    if (/TITLE:|DESCRIPTION:|BULLETS:/.test(text)) raw.push(text);
    if (text.length > 0 && (await live.locator("h2").count()) > 0) headed = true;
    await page.waitForTimeout(100);
  }
  assert.ok(lengths.size >= 3, `the description streamed in pieces (lengths seen: ${[...lengths]})`);
  assert.deepEqual(raw, [], "no raw markers while streaming");
  assert.ok(headed, "the title streams as a heading");
  await page.screenshot({ path: `${env.shots}/agentwrite-mid-stream.png` });
  await shoot(page, "agentwrite-streaming");
  await page.locator("#aw-status", { hasText: "Done" }).waitFor({ timeout: 30000 });
  assert.ok((await page.locator("#aw-title").textContent()).trim().length > 0, "a title");
  assert.ok((await page.locator("#aw-bullets li").count()) > 0, "bullet points");
  assert.equal(Number(await page.locator("#aw-balance").textContent()), before - 1, "one credit spent");
  await shoot(page, "agentwrite", { dark: true });
  // Pages no other step audits: the saved result by its URL, the history with this run in it,
  // the empty upload form, and the public pages as a signed-in customer sees them.
  const saved = page.url();
  assert.match(saved, /\/tools\/agentwrite\/[0-9a-f]{32}$/, "the address names the saved result");
  await visit(page, saved);
  await shoot(page, "agentwrite-saved", { dark: true });
  await visit(page, `${env.base}/history`);
  assert.ok((await page.locator("main tbody tr").count()) > 0, "the run is in the history");
  await shoot(page, "history", { dark: true });
  await visit(page, `${env.base}/tools/podscribe`);
  await shoot(page, "podscribe-form", { dark: true });
  for (const [path, name] of [["/", "landing-signed-in"], ["/terms", "terms-signed-in"], ["/privacy", "privacy-signed-in"]]) {
    await visit(page, `${env.base}${path}`);
    await shoot(page, name);
  }
  await context.close();
  assertClean(problems);
});

test("a customer transcribes a small audio file and downloads the SRT", async () => {
  assert.ok(results.email, "runs after the sign-up journey (the customer has credits)");
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await signInByEmail(page, results.email);
  // The upload shows its progress bar; the upload is quick here, so a watcher notes what the
  // bar showed (in sessionStorage, which survives the navigation to the transcript).
  await page.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      const box = document.getElementById("ps-progress");
      const bar = document.getElementById("ps-bar");
      if (!box || !bar) return;
      const note = () => {
        if (!box.hidden) sessionStorage.setItem("gt-progress-shown", "1");
        sessionStorage.setItem("gt-progress-max", String(Math.max(Number(sessionStorage.getItem("gt-progress-max") || 0), bar.value)));
      };
      new MutationObserver(note).observe(box, { attributes: true, subtree: true, attributeFilter: ["hidden", "value"] });
      bar.addEventListener("change", note);
      setInterval(note, 10);
    });
  });
  await visit(page, `${env.base}/tools/podscribe`);
  await page.getByLabel(/Episode/).setInputFiles({
    name: `interview-fake-audio-ok-${process.pid}${Date.now()}.wav`,
    mimeType: "audio/wav",
    buffer: wav(5),
  });
  await page.getByRole("button", { name: "Upload and transcribe" }).click();
  await page.waitForURL(/\/tools\/podscribe\/[0-9a-f]{32}$/, { timeout: 30000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("gt-progress-shown")), "1", "upload progress shown");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("gt-progress-max")), "100", "the bar reached 100%");
  await page.locator('#ps-status[data-status="done"]').waitFor({ timeout: 30000 });
  await shoot(page, "transcript", { dark: true });
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Subtitles (.srt)" }).click(),
  ]);
  assert.match(download.suggestedFilename(), /\.srt$/);
  const srt = readFileSync(await download.path(), "utf8");
  assert.match(srt, /^1\r?\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\r?\n\S/, `a valid SRT:\n${srt.slice(0, 200)}`);
  await context.close();
  assertClean(problems);
});

test("a transcript page follows a run in progress in place, without reloading", async () => {
  assert.ok(results.email, "runs after the sign-up journey (the customer has credits)");
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await signInByEmail(page, results.email);
  await visit(page, `${env.base}/tools/podscribe`);
  // The upload starts from the page (the browser is the client); the page then leaves for the
  // transcript while OpenAI (the fake's `slow` audio) takes four seconds.
  const name = `slow-fake-audio-slow-${process.pid}${Date.now()}.wav`;
  const url = await page.evaluate(async ({ bytes, name }) => {
    const form = new FormData();
    form.append("csrf", document.querySelector('input[name="csrf"]').value);
    form.append("file", new File([new Uint8Array(bytes)], name, { type: "audio/wav" }));
    const res = await fetch("/api/tools/podscribe/upload", { method: "POST", body: form, headers: { Accept: "application/x-ndjson" } });
    const reader = res.body.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    return JSON.parse(text.split("\n")[0]).url;
  }, { bytes: Array.from(wav(5)), name });
  await visit(page, `${env.base}${url}`);
  assert.equal(await page.locator('meta[http-equiv="refresh"]').count(), 0, "no meta refresh");
  await page.locator("#ps-transcript[data-live]").waitFor();
  assert.match(await page.locator("#ps-status").innerText(), /This page updates by itself/);
  assert.ok(!(await page.getByRole("link", { name: "Refresh" }).isVisible()), "the no-JS link is hidden with JavaScript");
  await audit(page, "transcript-in-progress");
  await page.evaluate(() => { window.__gtSamePage = "yes"; });
  await page.locator('#ps-status[data-status="done"]').waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__gtSamePage), "yes", "the page was not reloaded");
  assert.equal(await page.locator("#ps-transcript[data-live]").count(), 0, "it stops following");
  assert.ok(await page.getByRole("link", { name: "Subtitles (.srt)" }).isVisible(), "the result is shown");
  assert.match(await page.locator("#live-say").innerText(), /\S/, "the new status is announced");
  await shoot(page, "transcript-followed");
  await context.close();
  assertClean(problems);
});

test("an episode over 25 MB goes up in parts, a dropped part is sent again, and the run is followed", async () => {
  assert.ok(results.email, "runs after the sign-up journey (the customer has credits)");
  // The first try of part 2 loses its connection: Chromium reports that failed request.
  const dropped = (text) => /ERR_CONNECTION_RESET/.test(text) && /\/parts\/2\b/.test(text);
  const { context, problems } = await watchedContext({ expected: dropped });
  const page = await context.newPage();
  await signInByEmail(page, results.email);
  const tries = { 2: 0 };
  await page.route(/\/api\/tools\/podscribe\/uploads\/[0-9a-f]{32}\/parts\/2$/, (route) => {
    tries[2] += 1;
    return tries[2] === 1 ? route.abort("connectionreset") : route.continue();
  });
  await visit(page, `${env.base}/tools/podscribe`);
  await page.getByLabel(/Episode/).setInputFiles({
    name: `long-interview-fake-audio-ok-${process.pid}${Date.now()}.wav`,
    mimeType: "audio/wav",
    buffer: wav(3300), // 26.4 MB: over what one request may carry, so four parts of 8 MB
  });
  await page.getByRole("button", { name: "Upload and transcribe" }).click();
  await page.waitForURL(/\/tools\/podscribe\/[0-9a-f]{32}$/, { timeout: 90000 });
  assert.equal(tries[2], 2, "part 2 was sent again after its connection dropped");
  await page.locator('#ps-status[data-status="done"]').waitFor({ timeout: 90000 });
  assert.match(await page.locator("main").innerText(), /55:00 of audio · 55 credits/);
  await context.close();
  assertClean(problems);
});

test("a customer changes their email address and confirms it from the new inbox", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  const [from, to] = [uniqueEmail("moving"), uniqueEmail("moved")];
  await signInByEmail(page, from);
  await visit(page, `${env.base}/account`);
  await page.getByLabel("New email address").fill(to);
  await page.getByRole("button", { name: "Send a confirmation link" }).click();
  await page.waitForURL(`${env.base}/account`);
  assert.match(await page.locator("#flash").textContent(), new RegExp(`We emailed a link to ${to.replaceAll(".", "\\.")}`));
  await page.getByText("Waiting for confirmation").waitFor();
  await shoot(page, "account-email-pending");

  const link = await signInLink(to);
  assert.ok(link.startsWith(`${env.base}/account/email/confirm?token=`), link);
  await visit(page, link);
  await page.getByRole("heading", { name: "Confirm your new address" }).waitFor();
  await shoot(page, "account-email-confirm", { dark: true });
  await page.getByRole("button", { name: `Use ${to}` }).click();
  await page.waitForURL(`${env.base}/account`);
  assert.match(await page.locator("#flash").textContent(), /Your email address is now/);
  assert.equal(await page.locator(".facts dd").first().textContent(), to);
  await shoot(page, "account-email-changed");
  results.email_change = { from, to };
  await context.close();
  assertClean(problems);
});

test("the operator takes back credits, suspends an account (its owner is told why) and restores it", async () => {
  // A customer of its own: the journeys above keep theirs.
  const email = uniqueEmail("suspended");
  const customer = await watchedContext();
  const own = await customer.context.newPage();
  await signInByEmail(own, email);
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await signInByEmail(page, env.adminEmail);
  await visit(page, `${env.base}/admin`);
  await page.getByLabel("Account email").fill(email);
  await page.getByLabel("Credits").fill("5");
  await page.getByLabel("Reason (goes in the ledger)").fill("Browser test: credits to take back");
  await page.getByRole("button", { name: "Grant credits" }).click();
  await page.locator("#flash").waitFor();
  assert.match(await page.locator("#flash").textContent(), /Credits added: 5/);
  await page.getByLabel("Search by email").fill(email);
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator("#users tbody tr", { hasText: email }).getByRole("link", { name: /^Account/ }).click();
  await page.getByRole("heading", { level: 1, name: email }).waitFor();
  const flash = async (pattern) => {
    await page.locator("#flash").waitFor();
    assert.match(await page.locator("#flash").textContent(), pattern);
  };

  await page.getByLabel("Credits to deduct").fill("2");
  await page.locator("#deduct-reason").fill("Browser test: a grant made by mistake");
  await page.getByRole("button", { name: "Deduct credits" }).click();
  await flash(/Credits deducted: 2 \(balance now 3\)/);
  assert.match(await page.locator("#user-ledger").innerText(), /Browser test: a grant made by mistake/);

  await page.getByLabel("Reason for the suspension").fill("Browser test: card testing");
  await page.getByRole("button", { name: "Suspend the account" }).click();
  await flash(/Account suspended/);
  assert.match(await page.locator("#user-status").innerText(), /Suspended: Browser test: card testing/);
  await shoot(page, "admin-user-suspended", { dark: true });
  await visit(own, `${env.base}/billing`);
  assert.match(await own.locator("main").innerText(), /Your account is suspended/);
  await shoot(own, "billing-suspended");

  await page.getByRole("button", { name: "Restore the account" }).click();
  await flash(/Account restored/);
  assert.match(await page.locator("#user-status").innerText(), /Active/);
  await own.reload();
  assert.doesNotMatch(await own.locator("main").innerText(), /Your account is suspended/);
  await context.close();
  await customer.context.close();
  assertClean(problems);
  assertClean(customer.problems);
});
