// The money and usage views as a customer reads them, in a real headless Chromium: a credit pack
// bought through Stripe's hosted page shows on /billing with its invoice and receipt, the
// receipt opens at Stripe, and a description written with AgentWrite shows on the dashboard's
// chart and its table. Every page loads without a console error or a CSP violation; screenshots
// (desktop and phone, light and dark) go to target/e2e/screenshots/billing-test/. Run by
// tests/e2e/browser_billing.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { env, journeysSharingOneBrowser, watchedContext, assertClean, shoot, signInByEmail, uniqueEmail, visit } from "./browser.mjs";

const results = {};
journeysSharingOneBrowser(results);

test("a customer buys a credit pack and finds its invoice and receipt on the billing page", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  const email = uniqueEmail("billview");
  results.email = email;
  await signInByEmail(page, email);

  await visit(page, `${env.base}/billing`);
  await page.locator("#no-payments").waitFor();
  await shoot(page, "billing-empty");

  await visit(page, `${env.base}/pricing`);
  await page.getByRole("button", { name: "Buy 50 credits" }).click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  results.session_id = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("button", { name: "Pay", exact: true }).click();
  await page.waitForURL(/\/billing\/success\?session_id=/);
  await page.getByRole("heading", { name: "Thank you!" }).waitFor();

  // Stripe's events (the charge with its receipt, the pack's invoice) arrive just after the
  // redirect: the page shows what has arrived, so look again until both links are there.
  const row = page.locator(`#payment-${results.session_id}`);
  const deadline = Date.now() + 20000;
  for (;;) {
    await visit(page, `${env.base}/billing`);
    if ((await row.locator(".receipt-link").count()) && (await row.locator(".invoice-link").count())) break;
    assert.ok(Date.now() < deadline, "the receipt and invoice links appear");
    await page.waitForTimeout(300);
  }
  const text = await row.innerText();
  assert.match(text, /50 credit pack/);
  assert.match(text, /\$5\.00 USD/);
  assert.match(text, /Paid/);
  assert.match(await page.locator("#payments-table thead").innerText(), /Date \(UTC\)/);
  assert.match(await page.locator("main").innerText(), /Credit pack · 50 credit pack/);
  await shoot(page, "billing-invoices", { dark: true });

  // The receipt opens at Stripe (the fake's page), and the way back is the billing page.
  await row.getByRole("link", { name: /^Receipt/ }).click();
  await page.waitForURL(/\/receipts\/ch_/);
  await page.getByRole("heading", { name: /^Receipt ch_/ }).waitFor();
  await page.goBack();
  await page.waitForURL(`${env.base}/billing`);
  await context.close();
  assertClean(problems);
});

test("the customer writes a description and sees it on the dashboard's usage chart", async () => {
  assert.ok(results.email, "runs after the purchase (the customer has credits)");
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await signInByEmail(page, results.email);
  await visit(page, `${env.base}/dashboard`);
  await page.locator("#usage-empty").waitFor();

  await visit(page, `${env.base}/tools/agentwrite`);
  await page.getByLabel("Product name").fill(`Billview lamp ${process.pid}${Date.now()}`);
  await page.getByLabel("Key features").fill("Warm light\nUSB-C");
  await page.getByLabel("Who is it for?").fill("Night readers");
  await page.getByRole("button", { name: /Write description/ }).click();
  await page.locator("#aw-status", { hasText: "Done" }).waitFor({ timeout: 30000 });

  await visit(page, `${env.base}/dashboard`);
  const chart = page.locator("#usage-chart svg[role=img]");
  await chart.waitFor();
  assert.match(await chart.getAttribute("aria-label"), /Credits spent per day by tool/);
  // The table says the same as the chart: today, one AgentWrite credit.
  await page.getByText("Credits spent per day as a table").click();
  const today = new Date().toISOString().slice(0, 10);
  const cells = await page.locator("#usage-days tbody tr", { hasText: today }).locator("td").allInnerTexts();
  assert.deepEqual(cells, [today, "1", "0", "1"]);
  const bar = page.locator(`#usage-chart rect.chart-bar title`, { hasText: `${today.slice(5)}: AgentWrite 1 credit` });
  assert.equal(await bar.count(), 1, "today's AgentWrite bar");
  await shoot(page, "dashboard-usage", { dark: true });
  await context.close();
  assertClean(problems);
});
