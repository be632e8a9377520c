// A real OpenID provider (npm `oidc-provider`) configured like Google's, for the browser journey
// of Google sign-in: authorization code flow, PKCE S256 required, `prompt=select_account`
// accepted, RS256 ID tokens that carry `email`, `email_verified` and `name` (Google puts them in
// the ID token; `conformIdTokenClaims: false` does the same), client secret in the token
// request's body. Its own "Choose an account" page stands in for Google's: any address signs
// in; one starting with `unverified` comes back with `email_verified: false`.
//
// Started by tests/e2e/browser_google.rs:
//   node tests/browser/oidc-provider.mjs <port> <redirect_uri> <client_id> <client_secret>
// and prints `ready <issuer>` once it listens.
import Provider, { interactionPolicy } from "oidc-provider";
import { createHash, generateKeyPairSync } from "node:crypto";

const [port, redirectUri, clientId, clientSecret] = process.argv.slice(2);
if (!clientSecret) throw new Error("usage: oidc-provider.mjs <port> <redirect_uri> <client_id> <client_secret>");
const issuer = `http://127.0.0.1:${port}`;

// Google's subject is a stable number per account.
const subjectOf = (email) => BigInt("0x" + createHash("sha256").update(email).digest("hex").slice(0, 15)).toString();
const accounts = new Map();

const policy = interactionPolicy.base();
policy.add(new interactionPolicy.Prompt({ name: "select_account", requestable: true }), 0);

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "browser-test-key", alg: "RS256", use: "sig" };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ["code"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "client_secret_post",
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ["browser-test-oidc-cookie-key"] },
  scopes: ["openid", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    return account && { accountId: sub, claims: () => ({ sub, ...account }) };
  },
});

const page = (uid, error = "") => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in – Local OpenID provider</title>
<link rel="icon" href="data:,"></head>
<body><main><h1>Choose an account</h1><p>to continue to GhostTools</p>
${error ? `<p role="alert">${error}</p>` : ""}
<form method="post" action="/interaction/${uid}">
<label for="email">Email or phone</label> <input id="email" name="email" type="email" required>
<button type="submit">Next</button></form></main></body></html>`;

async function formOf(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === "GET") {
    ctx.type = "html";
    ctx.body = page(details.uid);
    return;
  }
  const email = ((await formOf(ctx.req)).get("email") || "").trim().toLowerCase();
  if (!email.includes("@")) {
    ctx.type = "html";
    ctx.status = 400;
    ctx.body = page(details.uid, "Enter an email address");
    return;
  }
  const sub = subjectOf(email);
  accounts.set(sub, { email, email_verified: !email.startsWith("unverified"), name: email.split("@")[0] });
  const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
  grant.addOIDCScope("openid email profile");
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, {
    select_account: {},
    login: { accountId: sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
});

provider.listen(Number(port), "127.0.0.1", () => console.log(`ready ${issuer}`));
