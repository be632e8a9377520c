// What the bench's requests carry: client IPs, signed-in users with minted session cookies,
// signed Stripe events, and a fake OpenAI that streams a completion in the real wire format.
import { createHmac, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import pg from "pg";

export const SESSION_SECRET = "bench-session-secret-0123456789abcdef0123";
export const WEBHOOK_SECRET = "whsec_bench_0123456789abcdef0123456789abcdef";
/** https, as in production: cookies are `__Host-` prefixed and HSTS is sent. */
export const SITE = "https://ghosttools.bench";

/** `n` client addresses from the benchmarking range (RFC 2544: 198.18.0.0/15). */
export function clientIps(n, third = 0) {
  return Array.from({ length: n }, (_, i) => `198.18.${third + Math.floor(i / 250)}.${(i % 250) + 1}`);
}

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** A session token as src/auth/session.rs issues it (HS256 JWT: sub, sid, sv, iat, exp). */
export function sessionToken(userId, sessionVersion, sid, nowSecs = Math.floor(Date.now() / 1000)) {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "HS256" }));
  const claims = b64url(JSON.stringify({ sub: String(userId), sid, sv: sessionVersion, iat: nowSecs, exp: nowSecs + 30 * 86400 }));
  const mac = createHmac("sha256", SESSION_SECRET).update(`${header}.${claims}`).digest();
  return `${header}.${claims}.${b64url(mac)}`;
}

/** The CSRF token of a session's forms (src/auth/csrf.rs: HMAC-SHA256(secret, "csrf:sid:<sid>")). */
export const csrfToken = (sid) => createHmac("sha256", SESSION_SECRET).update(`csrf:sid:${sid}`).digest("hex");

/**
 * `n` users with a session each (a row in `sessions` and its token), and credits for the tools:
 * what `s.sign_in_new` does in the e2e harness, in bulk. Returns [{ id, sid, cookie, csrf }].
 */
export async function seedUsers(databaseUrl, n) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query(
      `INSERT INTO users (email, email_verified_at)
       SELECT 'bench-' || g || '@bench.test', now() FROM generate_series(1, $1::int) g
       RETURNING id, session_version`,
      [n],
    );
    // Credits as an operator grant: the balance row equals the sum of the user's ledger rows.
    await db.query(
      `WITH u AS (SELECT unnest($1::bigint[]) AS id)
       INSERT INTO credit_ledger (user_id, delta, reason, reference, note)
       SELECT id, 1000000, 'admin_grant', 'bench-' || id, 'make bench' FROM u`,
      [rows.map((r) => r.id)],
    );
    await db.query(
      `INSERT INTO credit_balances (user_id, balance) SELECT unnest($1::bigint[]), 1000000`,
      [rows.map((r) => r.id)],
    );
    const users = rows.map((r) => {
      const sid = `bench-${r.id}-${randomBytes(6).toString("hex")}`;
      return { id: r.id, sid, cookie: `__Host-gt_session=${sessionToken(r.id, r.session_version, sid)}`, csrf: csrfToken(sid) };
    });
    // A token counts only while its session row exists (migrations/V10__sessions.sql): without
    // one, every signed-in probe would measure the redirect to /signin.
    await db.query(
      `INSERT INTO sessions (sid, user_id, browser, place)
       SELECT unnest($1::text[]), unnest($2::bigint[]), 'make bench', 'Benchland'`,
      [users.map((u) => u.sid), users.map((u) => u.id)],
    );
    return users;
  } finally {
    await db.end();
  }
}

/** Whether `table` exists (billing's stripe_events arrives with its migration). */
export async function tableExists(databaseUrl, table) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
    return rows[0].present;
  } finally {
    await db.end();
  }
}

/**
 * `n` Stripe events of a type the Worker does not act on (`customer.created`): each is
 * verified, recorded once and answered 200 — the webhook's fixed cost. Signed now, so a run
 * must start within Stripe's 5-minute tolerance. Returns [{ body, signature }].
 */
export function stripeEvents(prefix, n, nowSecs = Math.floor(Date.now() / 1000)) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({
      id: `evt_${prefix}_${i}`,
      object: "event",
      type: "customer.created",
      created: nowSecs,
      livemode: false,
      api_version: "2024-06-20",
      data: { object: { id: `cus_${prefix}_${i}`, object: "customer", email: `c${i}@bench.test` } },
    });
    const v1 = createHmac("sha256", WEBHOOK_SECRET).update(`${nowSecs}.${body}`).digest("hex");
    out[i] = { body, signature: `t=${nowSecs},v1=${v1}` };
  }
  return out;
}

export const FAKE_CHUNKS = 40;
/** What the fake "writes": the TITLE/DESCRIPTION/BULLETS shape AgentWrite's prompt asks for. */
const COPY =
  "TITLE: TrailLite 2 Backpacking Tent — Made for the Trail\n" +
  "DESCRIPTION: Pitch camp in minutes and sleep dry. At 1.1 kg the TrailLite 2 is the tent you " +
  "forget you are carrying until the rain starts, with room for two and their boots.\n" +
  "BULLETS:\n- Sets up in under 3 minutes\n- 3000 mm waterproof fly\n- Two doors, two vestibules\n";

/**
 * A fake of OpenAI's chat completions on 127.0.0.1: streams `COPY` in `chunks` pieces as
 * server-sent events (role chunk, content chunks, finish chunk, usage chunk, `data: [DONE]`),
 * or answers one JSON completion when `stream` is false. No delay: the bench measures what
 * relaying costs, not OpenAI's speed.
 */
export function startFakeOpenAi({ chunks = FAKE_CHUNKS } = {}) {
  const size = Math.ceil(COPY.length / chunks);
  let served = 0;
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      served++;
      let ask = {};
      try {
        ask = JSON.parse(raw || "{}");
      } catch {
        // answered like any other request
      }
      const id = `chatcmpl-bench${served}`;
      const created = Math.floor(Date.now() / 1000);
      const model = ask.model ?? "gpt-4o-mini";
      const text = Array.from({ length: Math.ceil(COPY.length / size) }, (_, i) => COPY.slice(i * size, (i + 1) * size));
      const usage = { prompt_tokens: 60, completion_tokens: text.length, total_tokens: 60 + text.length };
      if (req.url !== "/v1/chat/completions" || req.method !== "POST") {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error", param: null, code: null } }));
        return;
      }
      if (!ask.stream) {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ id, object: "chat.completion", created, model, choices: [{ index: 0, message: { role: "assistant", content: text.join("") }, finish_reason: "stop" }], usage }));
        return;
      }
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      const chunk = (choices, extra = {}) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra })}\n\n`;
      let out = chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
      for (const t of text) out += chunk([{ index: 0, delta: { content: t }, finish_reason: null }]);
      out += chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
      if (ask.stream_options?.include_usage) out += chunk([], { usage });
      res.end(`${out}data: [DONE]\n\n`);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port, served: () => served })));
}
