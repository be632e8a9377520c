// Google sign-in in a real headless Chromium, against a real OpenID provider configured like
// Google's (tests/browser/oidc-provider.mjs): the journey leaves the site for the provider and
// comes back. Every page, ours and the provider's, must load without a console error or a CSP
// violation. Run by tests/e2e/browser_google.rs, which starts the provider and a Worker of its
// own pointed at it, and afterwards checks the accounts in Postgres.
import { test } from "node:test";
import assert from "node:assert/strict";
import { env, journeysSharingOneBrowser, watchedContext, assertClean, shoot, signInByEmail, uniqueEmail, visit } from "./browser.mjs";

const provider = process.env.GT_OIDC_URL;
if (!provider) throw new Error("GT_OIDC_URL is not set (cargo test --test e2e -- browser_google)");

const results = {};
journeysSharingOneBrowser(results);

/// Where the page stands, for a failure message: its address and the start of its text.
async function whereThePageIs(page) {
  const text = await page.locator("body").innerText({ timeout: 2000 }).catch(() => "");
  return `${page.url()}: ${text.slice(0, 400)}`;
}

/// From our sign-in page through the provider's account chooser; answers the authorization
/// request the browser sent the provider. Each step waits up to a minute (a CI machine with two
/// cores runs the rest of the suite alongside) and a step that fails says where the page was.
async function continueWithGoogle(page, email) {
  await visit(page, `${env.base}/signin?next=%2Fbilling`);
  const button = page.getByRole("button", { name: "Continue with Google" });
  await button.waitFor({ timeout: 10000 }).catch(async () => {
    // The page leaves the button out for a minute after a failed discovery.
    throw new Error(`no "Continue with Google" button on ${await whereThePageIs(page)}`);
  });
  const authorization = page.waitForRequest((r) => r.url().startsWith(`${provider}/auth?`), { timeout: 60000 });
  await button.click();
  const sent = await authorization.catch(async () => {
    throw new Error(`the Google button did not lead to ${provider}/auth; the page is ${await whereThePageIs(page)}`);
  });
  await page.getByRole("heading", { name: "Choose an account" }).waitFor({ timeout: 60000 });
  await page.getByLabel("Email or phone").fill(email);
  await page.getByRole("button", { name: "Next" }).click();
  return new URL(sent.url()).searchParams;
}

async function expectSignedInOnBilling(page, email) {
  await page.waitForURL(`${env.base}/billing`, { timeout: 60000 }).catch(async () => {
    throw new Error(`Google sign-in as ${email} stopped at ${await whereThePageIs(page)}`);
  });
  await visit(page, `${env.base}/account`);
  await page.getByText(email).first().waitFor();
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await page.waitForURL(`${env.base}/`);
}

test("a new user signs in with Google and returns to the page they asked for", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  const email = uniqueEmail("google-new");
  results.new_user = email;
  const asked = await continueWithGoogle(page, email);
  assert.equal(asked.get("response_type"), "code");
  assert.equal(asked.get("scope"), "openid email profile");
  assert.equal(asked.get("code_challenge_method"), "S256");
  assert.equal(asked.get("prompt"), "select_account");
  assert.equal(asked.get("redirect_uri"), `${env.base}/signin/google/callback`);
  for (const p of ["state", "nonce", "code_challenge", "client_id"]) assert.ok(asked.get(p), `${p} sent`);
  await expectSignedInOnBilling(page, email);
  await shoot(page, "google-new-user-account");
  await context.close();
  assertClean(problems);
});

test("a returning user signs in with Google again as the same account", async () => {
  assert.ok(results.new_user, "runs after the new user's journey");
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  await continueWithGoogle(page, results.new_user);
  await expectSignedInOnBilling(page, results.new_user);
  await signOut(page);
  await continueWithGoogle(page, results.new_user);
  await expectSignedInOnBilling(page, results.new_user);
  await context.close();
  assertClean(problems);
});

test("Google sign-in joins the account first made by an emailed link", async () => {
  const { context, problems } = await watchedContext();
  const page = await context.newPage();
  const email = uniqueEmail("google-link");
  results.linked = email;
  await signInByEmail(page, email);
  await signOut(page);
  await continueWithGoogle(page, email);
  await expectSignedInOnBilling(page, email);
  await context.close();
  assertClean(problems);
});

test("an address Google has not verified is refused with a clear page", async () => {
  // The refusal answers 403 on purpose; Chromium logs that status as a console error.
  const refusal = (text) => /status of 403/.test(text) && /\/signin\/google\/callback/.test(text);
  const { context, problems } = await watchedContext({ expected: refusal });
  const page = await context.newPage();
  const email = uniqueEmail("unverified-google");
  results.unverified = email;
  await continueWithGoogle(page, email);
  await page.getByRole("heading", { name: "Google sign-in didn't complete" }).waitFor();
  assert.match(await page.locator("main").innerText(), /has not verified this account's email address/);
  assert.equal(new URL(page.url()).pathname, "/signin/google/callback");
  await shoot(page, "google-unverified");
  await visit(page, `${env.base}/account`);
  assert.match(page.url(), /\/signin\?next=%2Faccount/, "not signed in");
  await context.close();
  assertClean(problems);
});
