// The peer for `make bench`: GhostTools' landing page, health check and Stripe webhook as a
// Workers developer would write them in JavaScript with Hono and node-postgres, following
// Cloudflare's Hyperdrive guide (a new client per request, closed through waitUntil). It does
// the same work as our Worker on these routes: security headers with a CSP nonce, a request id,
// one Postgres connection per database route, the same statements. Never shipped.
import { Hono } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { requestId } from "hono/request-id";
import { Client } from "pg";
import { landing, layout } from "./page.js";

const app = new Hono();

app.use(requestId());
app.use(
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: [NONCE, "'strict-dynamic'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    referrerPolicy: "strict-origin-when-cross-origin",
    xFrameOptions: false, // as ours: the CSP's frame-ancestors replaces it
    permissionsPolicy: {
      camera: [],
      microphone: [],
      geolocation: [],
      payment: [],
      usb: [],
    },
  }),
);
app.use(async (c, next) => {
  await next();
  if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
});

app.get("/", (c) => {
  const page = { title: "GhostTools — AI product descriptions and podcast transcripts", nonce: c.get("secureHeadersNonce"), build: c.env.BUILD ?? "bench" };
  return c.html(layout(page, landing()));
});

// A new client per request, as Cloudflare's Hyperdrive guide for node-postgres shows.
async function withDb(c, work) {
  const client = new Client({ connectionString: c.env.DB.connectionString });
  try {
    await client.connect();
    return await work(client);
  } finally {
    c.executionCtx.waitUntil(client.end().catch(() => {}));
  }
}

app.get("/api/health", async (c) => {
  const started = Date.now();
  let database, schema;
  try {
    const applied = await withDb(c, async (db) => {
      const { rows } = await db.query("SELECT max(version) AS v FROM refinery_schema_history");
      return rows[0]?.v ?? 0;
    });
    database = { status: "ok", latency_ms: Date.now() - started };
    schema = { status: "ok", applied };
  } catch (e) {
    console.error(JSON.stringify({ level: "error", message: `health: ${e}` }));
    database = { status: "fail", problems: ["database unreachable"] };
    schema = { status: "unknown" };
  }
  const failing = [["database", database], ["schema", schema]].filter(([, v]) => v.status === "fail").map(([k]) => k);
  const body = { status: failing.length ? "fail" : "ok", version: c.env.BUILD ?? "bench", checks: { database, schema, configuration: { status: "ok" } }, failing };
  return c.json(body, failing.length ? 503 : 200);
});

// Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]; HMAC-SHA256 of "<t>.<raw body>", any v1 may match.
let keyPromise;
const encoder = new TextEncoder();
async function signatureValid(header, raw, secret, nowSecs) {
  if (!header) return false;
  let t;
  const candidates = [];
  for (const part of header.split(",")) {
    const [k, v] = part.split("=", 2);
    if (k === "t") t = Number(v);
    else if (k === "v1" && /^[0-9a-f]{64}$/.test(v)) candidates.push(v);
  }
  if (!Number.isSafeInteger(t) || Math.abs(nowSecs - t) > 300 || candidates.length === 0) return false;
  keyPromise ??= crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await keyPromise, encoder.encode(`${t}.${raw}`)));
  return candidates.some((hex) => {
    const given = new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));
    return crypto.subtle.timingSafeEqual(given, mac);
  });
}

app.post("/api/stripe/webhook", async (c) => {
  const raw = await c.req.text();
  if (!(await signatureValid(c.req.header("stripe-signature"), raw, c.env.STRIPE_WEBHOOK_SECRET, Math.floor(Date.now() / 1000)))) {
    return c.json({ error: { code: "bad_request", field: "Stripe-Signature" } }, 400);
  }
  let event;
  try {
    event = JSON.parse(raw);
  } catch {
    return c.json({ error: { code: "bad_request", field: "body" } }, 400);
  }
  if (!event?.id || !event?.type) return c.json({ error: { code: "bad_request", field: "body" } }, 400);
  // The statements of our Worker's webhook for an event it does not act on.
  const outcome = await withDb(c, async (db) => {
    const seen = await db.query("SELECT 1 FROM stripe_events WHERE id = $1 AND outcome IN ('applied', 'ignored')", [event.id]);
    if (seen.rowCount) return "duplicate";
    await db.query("BEGIN");
    try {
      const claimed = await db.query(
        `INSERT INTO stripe_events (id, type, object_id, stripe_created_at, livemode, outcome)
         VALUES ($1, $2, $3, to_timestamp($4), $5, 'processing')
         ON CONFLICT (id) DO UPDATE SET outcome = 'processing', detail = NULL,
             attempts = stripe_events.attempts + 1
         WHERE stripe_events.outcome = 'failed'
         RETURNING id`,
        [event.id, event.type, event.data?.object?.id ?? null, event.created, Boolean(event.livemode)],
      );
      if (!claimed.rowCount) {
        await db.query("COMMIT");
        return "duplicate";
      }
      await db.query(
        `UPDATE stripe_events SET outcome = $2, detail = $3, user_id = coalesce($4, user_id),
             processed_at = now()
         WHERE id = $1`,
        [event.id, "ignored", `${event.type} is not handled`, null],
      );
      await db.query("COMMIT");
      return "ignored";
    } catch (e) {
      await db.query("ROLLBACK").catch(() => {});
      throw e;
    }
  });
  return c.json({ received: true, outcome });
});

export default app;
