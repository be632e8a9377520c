// `make bench` (after scripts/bench.sh built the Worker and started Postgres): starts our
// Worker, the ceiling (a trivial JavaScript Worker) and the Hono peer under `wrangler dev`,
// measures cold starts, startup, bundle, and — in interleaved rounds, at fixed concurrency,
// against 127.0.0.1 only — throughput and latency of representative routes; then prints the
// table, the ratios and the budgets. BENCHMARKS.md explains every figure.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import * as fx from "./lib/fixtures.mjs";
import { rawRequest, runWrk, writeRequests } from "./lib/load.mjs";
import { profile } from "./lib/profile.mjs";
import { startDistance } from "./lib/distance.mjs";
import { budget, fmt, median, parseServerTiming, ratio, spreadOf, summarize, table } from "./lib/report.mjs";
import { cpuMs, PIN, projectConfig, ROOT, startupProfile, startWorker, stopAll, stopWorker, tomlString } from "./lib/workers.mjs";

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 8);
const ONLY = env.BENCH_ONLY ? new Set(env.BENCH_ONLY.split(",").map((s) => s.trim())) : null;
// A target key (e.g. landing@inner) to CPU-profile after the measurements.
const PROFILE = env.BENCH_PROFILE ?? null;
const DB_URL = env.BENCH_DATABASE_URL;
// Milliseconds each way between the far Workers and Postgres (0: no far Workers). A far copy of
// ours and of the Hono peer then run the database routes at that distance, beside the near ones.
const DELAY_MS = Number(env.BENCH_DB_DELAY_MS ?? 0);
// A ratio whose rounds spread more than this (max − min over the median) is too noisy to judge.
const MAX_SPREAD = Number(env.BENCH_MAX_SPREAD ?? 0.15);
// Startup profiles per Worker: each span is ~30 ms, most of it the profiler's own, and moves
// ±15% from one profile to the next; three (one per round) could not tell 1.2× from 1.0×.
const STARTUP_PROFILES = Number(env.BENCH_STARTUP_PROFILES ?? 7);
// A folder holding an earlier build/ (a copy of build/ made at another commit): its Worker runs
// beside ours, interleaved, for before/after ratios of a change.
const BEFORE = env.BENCH_BEFORE ? env.BENCH_BEFORE.replace(/\/$/, "") : null;
const WORK = env.BENCH_WORK ?? join(ROOT, "target/bench");
const COMPAT_DATE = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/compatibility_date = "([^"]+)"/)[1];
if (!DB_URL) throw new Error("run through `make bench` (BENCH_DATABASE_URL is not set)");
if (!(SECONDS > 0 && SECONDS <= 60 && ROUNDS >= 1 && ROUNDS <= 10 && CONNECTIONS >= 1 && CONNECTIONS <= 64)) {
  throw new Error("BENCH_SECONDS 1–60, BENCH_ROUNDS 1–10, BENCH_CONNECTIONS 1–64");
}
if (!(DELAY_MS >= 0 && DELAY_MS <= 500)) throw new Error("BENCH_DB_DELAY_MS 0–500");

const say = (m) => process.stderr.write(`\x1b[1;35m==>\x1b[0m ${m}\n`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { stopAll(); process.exit(130); });
process.on("exit", () => { stopAll(); distance?.close(); });

const quietLoad = loadavg()[0];
const fake = await fx.startFakeOpenAi();
const oursVars = {
  ENVIRONMENT: "production",
  NEXTAUTH_URL: fx.SITE,
  NEXTAUTH_SECRET: fx.SESSION_SECRET,
  EMAIL_SERVER: "smtp://bench:bench@127.0.0.1:9",
  EMAIL_FROM: "GhostTools <noreply@ghosttools.bench>",
  STRIPE_SECRET_KEY: "sk_test_bench",
  STRIPE_WEBHOOK_SECRET: fx.WEBHOOK_SECRET,
  STRIPE_STARTER_PRICE_ID: "price_bench_starter",
  STRIPE_PRO_PRICE_ID: "price_bench_pro",
  STRIPE_API_BASE: `http://127.0.0.1:${fake.port}`,
  OPENAI_API_KEY: "sk-bench",
  OPENAI_API_BASE: `http://127.0.0.1:${fake.port}`,
  // The bench measures decisions and the stream relay, not refusals: room for every request.
  // BENCH_RATE_LIMITS replaces it, e.g. to see what a class's limiter costs ("pages=off").
  RATE_LIMITS: process.env.BENCH_RATE_LIMITS ?? "ai_generation=10000/1m",
  DEBUG_RATE_LIMIT_ROUTE: "true",
  // The "pipeline" target: a 200 through our whole request path with no page and no database.
  DEBUG_MEMORY_ROUTE: "true",
};
// Measured as production runs it: no Server-Timing (off in production). A second instance with
// it on answers each target's probe, for the database and limiter columns.
const oursConfig = projectConfig(DB_URL, oursVars);
const timedConfig = projectConfig(DB_URL, { ...oursVars, SERVER_TIMING: "true" });
const beforeConfig = BEFORE && oursConfig.replace(tomlString(join(ROOT, "build/worker/shim.mjs")), tomlString(join(BEFORE, "build/worker/shim.mjs")));
const assets = `[assets]\ndirectory = ${tomlString(join(ROOT, "static"))}\n`;
const ceilingConfig = (src = "ceiling-src") =>
  `name = "bench-ceiling"\nmain = ${tomlString(join(WORK, src, "worker.js"))}\ncompatibility_date = "${COMPAT_DATE}"\n` +
  `${assets}[[rules]]\ntype = "Text"\nglobs = ["**/*.html"]\nfallthrough = false\n`;
const honoConfig =
  `name = "bench-hono"\nmain = ${tomlString(join(ROOT, "bench/hono/src/index.js"))}\ncompatibility_date = "${COMPAT_DATE}"\n` +
  `compatibility_flags = ["nodejs_compat"]\n${assets}` +
  `[[hyperdrive]]\nbinding = "DB"\nid = "00000000000000000000000000000000"\nlocalConnectionString = ${tomlString(DB_URL)}\n` +
  `[vars]\nSTRIPE_WEBHOOK_SECRET = ${tomlString(fx.WEBHOOK_SECRET)}\n`;

// ---- the far copies: the same Workers, their database DELAY_MS away (bench/lib/distance.mjs) ----
const distance = DELAY_MS > 0 ? await startDistance({ upstreamPort: Number(new URL(DB_URL).port), delayMs: DELAY_MS }) : null;
const farUrl = distance && Object.assign(new URL(DB_URL), { port: String(distance.port) }).toString();
const far = (config) => config.replace(tomlString(DB_URL), tomlString(farUrl));

// ---- the bundle (scripts/size.sh) ----
say("bundle size");
const sizeOut = execFileSync(join(ROOT, "scripts/size.sh"), { cwd: ROOT, encoding: "utf8" });
const kib = (label) => Number((sizeOut.match(new RegExp(`${label}\\s+([\\d.]+) KiB`)) ?? [])[1]);
const bundle = { rawKiB: kib("wasm raw"), gzipKiB: kib("wasm gzip"), upload: (sizeOut.match(/Total Upload: (.*)/) ?? [])[1]?.trim() ?? "?" };

// ---- our Worker (for load), then the ceiling's page: our landing page's bytes ----
say("starting our Worker");
const ours = await startWorker({ name: "ours", dir: join(WORK, "ours"), config: oursConfig });
const landing = await fetch(`http://127.0.0.1:${ours.inner}/`, { headers: { "CF-Connecting-IP": "198.19.0.1", "Accept-Encoding": "identity" } });
const landingHtml = await landing.text();
// The headers our landing page is sent with, as the runtime got them from the Worker (framing
// and compression are the runtime's own): a second ceiling sends them too, which separates
// what our headers cost the runtime from what our code costs.
const landingHeaders = Object.fromEntries([...landing.headers].filter(([name]) => !/^(content-length|content-encoding|transfer-encoding)$/.test(name)));
// The ceilings' source folders (their wrangler dev folders are wiped on start).
for (const [src, headers] of [["ceiling-src", { "Content-Type": "text/html; charset=utf-8" }], ["ceiling-same-src", landingHeaders]]) {
  mkdirSync(join(WORK, src), { recursive: true });
  copyFileSync(join(ROOT, "bench/ceiling/worker.js"), join(WORK, src, "worker.js"));
  writeFileSync(join(WORK, src, "page.html"), landingHtml);
  writeFileSync(join(WORK, src, "headers.json"), JSON.stringify(headers));
}

// ---- startup: `wrangler check startup` profiles, interleaved ----
say("Worker startup profiles (wrangler check startup)");
const startup = { ours: [], ceiling: [], hono: [] };
// One profile each first, not counted: ours's first was the slowest of its run in three runs of
// three (2026-12-05 22:01Z–22:17Z: 1.25×, 1.44×, 1.42× the ceiling's first; the rest 1.00–1.29×).
for (const [dir, config] of [["startup-ours", oursConfig], ["startup-ceiling", ceilingConfig()], ["startup-hono", honoConfig]]) {
  startupProfile(join(WORK, dir), config);
}
for (let r = 0; r < STARTUP_PROFILES; r++) {
  startup.ours.push(startupProfile(join(WORK, "startup-ours"), oursConfig));
  startup.ceiling.push(startupProfile(join(WORK, "startup-ceiling"), ceilingConfig()));
  startup.hono.push(startupProfile(join(WORK, "startup-hono"), honoConfig));
}

// ---- cold starts: spawn `wrangler dev` → first 200 for GET /, interleaved ----
say("cold starts (wrangler dev spawned → first 200)");
const cold = { ours: [], ceiling: [], hono: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, config] of [["ours", oursConfig], ["ceiling", ceilingConfig()], ["hono", honoConfig]]) {
    const w = await startWorker({ name: `cold-${name}`, dir: join(WORK, `cold-${name}`), config });
    cold[name].push(w.coldStartMs);
    stopWorker(w);
  }
}

say("starting the ceiling and the Hono peer");
const ceiling = await startWorker({ name: "ceiling", dir: join(WORK, "ceiling"), config: ceilingConfig() });
const oursTimed = await startWorker({ name: "ours-timed", dir: join(WORK, "ours-timed"), config: timedConfig });
const ceilingSame = await startWorker({ name: "ceiling-same", dir: join(WORK, "ceiling-same"), config: ceilingConfig("ceiling-same-src") });
const hono = await startWorker({ name: "hono", dir: join(WORK, "hono"), config: honoConfig });
const before = BEFORE && (await startWorker({ name: "before", dir: join(WORK, "before"), config: beforeConfig }));
// The Rust floor (bench/floor, built by scripts/bench.sh): our toolchain's least Worker.
const floorConfig =
  `name = "bench-floor"\nmain = ${tomlString(join(ROOT, "bench/floor/build/worker/shim.mjs"))}\ncompatibility_date = "${COMPAT_DATE}"\n` +
  `${assets}[vars]\nPAGE = ${tomlString(landingHtml)}\n`;
const floor = await startWorker({ name: "floor", dir: join(WORK, "floor"), config: floorConfig });
const oursFar = distance && (await startWorker({ name: "ours-far", dir: join(WORK, "ours-far"), config: far(timedConfig) }));
const honoFar = distance && (await startWorker({ name: "hono-far", dir: join(WORK, "hono-far"), config: far(honoConfig) }));

// ---- fixtures ----
say("signed-in users and sessions");
const users = await fx.seedUsers(DB_URL, 256);
const ips = fx.clientIps(256);
const stripeIps = fx.clientIps(16, 10);
const webhookTable = await fx.tableExists(DB_URL, "stripe_events");
const reqFile = (name) => join(WORK, `requests-${name}.bin`);
const get = (path, extra = () => ({})) => ips.map((ip, i) => rawRequest("GET", path, { "CF-Connecting-IP": ip, Accept: "text/html", ...extra(i) }));
let eventBatch = 0;
const webhookRequests = (name) =>
  fx.stripeEvents(`bench_${name}_${process.pid}_${eventBatch++}`, Math.max(2000, SECONDS * 3000)).map((e, i) =>
    rawRequest("POST", "/api/stripe/webhook", { "CF-Connecting-IP": stripeIps[i % stripeIps.length], "Content-Type": "application/json", "Stripe-Signature": e.signature }, e.body),
  );

// ---- the targets, in the order each round runs them ----
const workers = { ours, ceiling, ceilingSame, hono, before, floor, oursFar, honoFar };
const limitedRequests = () => ips.map((ip) => rawRequest("POST", "/api/debug/rate-limit/ai_generation", { "CF-Connecting-IP": ip }));
const dashboardRequests = () => get("/dashboard", (i) => ({ Cookie: users[i % users.length].cookie }));
const beforeToo = (t) => (BEFORE ? [t, { ...t, name: `before.${t.name}`, worker: "before", note: `the build in ${BEFORE}` }] : [t]);
const targets = [
  { name: "ceiling", worker: "ceiling", note: "fixed page, Content-Type only", requests: () => get("/") },
  { name: "ceiling.same", worker: "ceilingSame", note: `fixed page with our landing page's ${Object.keys(landingHeaders).length} headers`, requests: () => get("/") },
  { name: "rust-floor", worker: "floor", note: "fixed page, Rust (bench/floor)", requests: () => get("/") },
  ...beforeToo({ name: "landing", worker: "ours", requests: () => get("/") }),
  { name: "hono.landing", worker: "hono", requests: () => get("/") },
  { name: "pipeline", worker: "ours", note: "our request path without a page: GET /api/debug/memory (JSON)", requests: () => get("/api/debug/memory") },
  // The noise control: the ceiling again, right after landing. Ceiling / ceiling should be 1.
  { name: "ceiling.again", worker: "ceiling", note: "the ceiling again (noise control)", requests: () => get("/") },
  ...beforeToo({ name: "health", worker: "ours", requests: () => get("/api/health") }),
  { name: "hono.health", worker: "hono", requests: () => get("/api/health") },
  { name: "webhook", worker: "ours", fresh: true, requests: () => webhookRequests("ours"), probe: probeWebhook },
  { name: "hono.webhook", worker: "hono", fresh: true, requests: () => webhookRequests("hono"), probe: probeWebhook, pair: "webhook" },
  ...beforeToo({ name: "dashboard", worker: "ours", requests: dashboardRequests }),
  ...beforeToo({ name: "rate-limited", worker: "ours", note: "exact decision (ai_generation)", requests: limitedRequests }),
  { name: "agentwrite", worker: "ours", probe: probeAgentWrite, requests: () => agentWriteRequests },
  ...(distance
    ? [
        { name: "far.health", worker: "oursFar", requests: () => get("/api/health") },
        { name: "far.hono.health", worker: "honoFar", requests: () => get("/api/health") },
        { name: "far.webhook", worker: "oursFar", fresh: true, requests: () => webhookRequests("ours-far"), probe: probeWebhook },
        { name: "far.hono.webhook", worker: "honoFar", fresh: true, requests: () => webhookRequests("hono-far"), probe: probeWebhook, pair: "far.webhook" },
        { name: "far.dashboard", worker: "oursFar", requests: dashboardRequests },
        { name: "far.agentwrite", worker: "oursFar", requests: () => agentWriteRequests, after: "agentwrite" },
      ].map((t) => ({ ...t, note: `database ${DELAY_MS} ms away each way` }))
    : []),
  { name: "ceiling", worker: "ceiling", port: "front", requests: () => get("/") },
  { name: "landing", worker: "ours", port: "front", requests: () => get("/") },
  { name: "hono.landing", worker: "hono", port: "front", requests: () => get("/") },
].map((t) => ({ port: "inner", ...t, key: `${t.name}@${t.port ?? "inner"}`, runs: [] }));

async function send(t, raw) {
  // The same bytes wrk will send, parsed back into a fetch (first request of the file).
  const [head, body] = raw.split("\r\n\r\n");
  const [start, ...lines] = head.split("\r\n");
  const [method, path] = start.split(" ");
  const headers = Object.fromEntries(lines.map((l) => l.split(/: (.*)/s).slice(0, 2)).filter(([k]) => !/^(host|content-length)$/i.test(k)));
  const w = t.worker === "ours" ? oursTimed : workers[t.worker];  // oursFar has Server-Timing on
  const port = t.port === "front" ? w.front : w.inner;
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body: method === "POST" ? body : undefined, redirect: "manual" });
  const text = await res.text();
  const ms = performance.now() - started;
  return { status: res.status, text, ms, timing: parseServerTiming(res.headers.get("server-timing")), type: res.headers.get("content-type") ?? "" };
}

async function probeWebhook(t) {
  if (!webhookTable) return { skip: "skipped: no stripe_events table yet (arrives with the billing branch)" };
  return null;
}

// AgentWrite as the page's script drives it: the form's fields, posted to the streaming
// endpoint (data-stream of the form on GET /tools/agentwrite), answered as server-sent events
// relayed from the fake OpenAI. Tone, language and length take the form's own defaults.
let agentWriteRequests = [];
async function probeAgentWrite(t) {
  const page = await send(t, rawRequest("GET", "/tools/agentwrite", { Cookie: users[0].cookie, "CF-Connecting-IP": ips[0] }));
  if (page.status === 404) return { skip: "skipped: GET /tools/agentwrite answers 404 (arrives with the tools branch)" };
  const form = page.text.match(/<form[^>]*data-stream="([^"]+)"[^>]*>([\s\S]*?)<\/form>/);
  if (page.status !== 200 || !form) return { skip: `skipped: GET /tools/agentwrite answered ${page.status} without the streaming form: update bench/run.mjs` };
  const chosen = (name) => {
    const select = form[2].match(new RegExp(`<select[^>]*name="${name}"[^>]*>([\\s\\S]*?)</select>`));
    const option = select && (select[1].match(/<option value="([^"]*)"[^>]*selected/) ?? select[1].match(/<option value="([^"]*)"/));
    const radio = form[2].match(new RegExp(`name="${name}" value="([^"]*)" checked`)) ?? form[2].match(new RegExp(`name="${name}" value="([^"]*)"`));
    return (option ?? radio ?? [])[1] ?? "";
  };
  const fields = [
    ["product_name", "TrailLite 2 Backpacking Tent"],
    ["features", "1.1 kg\nsets up in under 3 minutes\n3000 mm waterproof fly"],
    ["audience", "weekend hikers who count every gram"],
    ["tone", chosen("tone")],
    ["language", chosen("language")],
    ["length", chosen("length")],
    ["keywords", "ultralight tent"],
  ];
  // Each user from an address of its own: from one address the per-IP flood guard
  // (tool_flood_per_ip, 120 a minute) would answer nearly every request 429.
  agentWriteRequests = users.map((u, i) =>
    rawRequest("POST", form[1], { Cookie: u.cookie, "CF-Connecting-IP": ips[i % ips.length], "Content-Type": "application/x-www-form-urlencoded", Origin: fx.SITE, Accept: "text/event-stream" },
      new URLSearchParams([["csrf", u.csrf], ...fields]).toString()),
  );
  const res = await send(t, agentWriteRequests[0]);
  if (res.status !== 200 || !res.type.startsWith("text/event-stream") || !res.text.includes("event: done")) {
    return { skip: `skipped: POST ${form[1]} answered ${res.status} ${res.type}: ${res.text.slice(0, 160)}` };
  }
  t.note = "streamed from the fake OpenAI";
  return null;
}

say("probing every route once");
for (const t of targets) {
  if (ONLY && !ONLY.has(t.name)) { t.skip = "not in BENCH_ONLY"; continue; }
  const pair = t.pair && targets.find((o) => o.key === `${t.pair}@inner`);
  if (pair?.skip) { t.skip = pair.skip; continue; }
  const after = t.after && targets.find((o) => o.key === `${t.after}@inner`);
  if (after?.skip) { t.skip = after.skip; continue; }
  const early = t.probe ? await t.probe(t) : null;
  if (early) { t.skip = early.skip; continue; }
  t.file = t.fresh ? null : writeRequests(reqFile(t.key), t.requests());
  const first = await send(t, t.fresh ? t.requests()[0] : t.requests()[0]);
  if (first.status === 404 && t.name === "webhook") { t.skip = "skipped: POST /api/stripe/webhook answers 404 (arrives with the billing branch)"; continue; }
  if (first.status !== 200) { t.skip = `skipped: probe answered ${first.status}: ${first.text.slice(0, 160)}`; continue; }
  t.probeMs = first.ms;
  if (first.timing.db) t.db = `${first.timing.db.connections} / ${first.timing.db.roundTrips}`;
  if (first.timing.limiter) t.limiter = String(first.timing.limiter.calls);
  t.timing = first.timing;
}

// Steady state: every client the load uses already has its rate limiter (a Durable Object per
// subject). Locally the objects run in the Worker's own process, and creating hundreds of them
// mid-run would be measured as the Worker's cost; in production they live elsewhere.
say("priming the rate limiters (one Durable Object per client)");
const primers = [
  ...ips.map((ip) => ({ "CF-Connecting-IP": ip })),
  ...stripeIps.map((ip) => ({ "CF-Connecting-IP": ip })),
  ...users.map((u) => ({ Cookie: u.cookie, "CF-Connecting-IP": ips[0] })),
];
for (const w of [ours, before, oursFar].filter(Boolean)) {
  for (let i = 0; i < primers.length; i += 8) {
    await Promise.all(primers.slice(i, i + 8).map((headers) =>
      fetch(`http://127.0.0.1:${w.inner}/api/debug/rate-limit/general_api`, { method: "POST", headers }).then((r) => r.arrayBuffer())));
  }
}

const live = targets.filter((t) => !t.skip);
const runOnce = async (t, seconds) => {
  const file = t.fresh ? writeRequests(reqFile(t.key), t.requests()) : t.file;
  const worker = workers[t.worker];
  const port = t.port === "front" ? worker.front : worker.inner;
  const cpuBefore = cpuMs(worker);
  const res = await runWrk({ port, file, seconds, connections: CONNECTIONS });
  // CPU per request: the Worker's process only (with its local Durable Objects; not wrk, not
  // Postgres). Through the wrangler front, wrangler's own Node process is not counted.
  return { ...res, cpuMs: (cpuMs(worker) - cpuBefore) / res.requests };
};
say(`warming up (${live.length} targets)`);
for (const t of live) await runOnce(t, 1);
for (let r = 1; r <= ROUNDS; r++) {
  say(`round ${r} of ${ROUNDS}: ${live.length} runs of ${SECONDS} s at ${CONNECTIONS} connections`);
  for (const t of live) {
    const res = await runOnce(t, SECONDS);
    t.runs.push(res);
    process.stderr.write(`  ${t.key.padEnd(22)} ${fmt(res.rps).padStart(6)} req/s  p50 ${fmt(res.p50, 2).padStart(7)} ms  p99 ${fmt(res.p99, 2).padStart(7)} ms` +
      `  CPU ${fmt(res.cpuMs, 3)} ms/req${res.non2xx ? `  ${res.non2xx} non-2xx` : ""}${res.socketErrors ? `  ${res.socketErrors} socket errors` : ""}\n`);
  }
}
const endLoad = loadavg()[0];
for (const t of live) {
  t.summary = summarize(t.runs);
  if (t.summary.non2xx || t.summary.socketErrors) t.note = `${t.summary.non2xx} non-2xx, ${t.summary.socketErrors} socket errors`;
}

// ---- verdicts ----
// A throughput ratio is the median of the rounds' own ratios: the two runs of a round are
// seconds apart, so the machine's slow swings (single rounds of one Worker vary by ±20% here)
// cancel out of each pair instead of landing on one side of a ratio of medians. Its spread
// (max − min over the median, across rounds) says how far one round can be trusted.
const rounds = (a, b, field = "rps") => {
  const [x, y] = [a, b].map((key) => targets.find((t) => t.key === key)?.runs ?? []);
  return x.length && x.length === y.length ? x.map((run, i) => ratio(run[field], y[i][field])) : [];
};
const ratioRows = [
  ["landing / ceiling with the same headers (Worker port)", "landing@inner", "ceiling.same@inner"],
  ["landing / ceiling (Worker port)", "landing@inner", "ceiling@inner"],
  ["ceiling again / ceiling (noise control)", "ceiling.again@inner", "ceiling@inner"],
  ["same headers / Content-Type only (ceilings, Worker port)", "ceiling.same@inner", "ceiling@inner"],
  ["landing / ceiling (wrangler front)", "landing@front", "ceiling@front"],
  ["landing / Hono (Worker port)", "landing@inner", "hono.landing@inner"],
  ["Hono landing / ceiling (Worker port)", "hono.landing@inner", "ceiling@inner"],
  ["Rust floor / ceiling (Worker port)", "rust-floor@inner", "ceiling@inner"],
  ["landing / Rust floor (Worker port)", "landing@inner", "rust-floor@inner"],
  // ~1: the page itself (routing, the session lookup of a visitor, askama) costs nothing; the
  // gap to the floor is the request path every answer takes (BENCHMARKS.md, "Landing page").
  ["landing / our request path without a page", "landing@inner", "pipeline@inner"],
  ["health / Hono", "health@inner", "hono.health@inner"],
  ["webhook / Hono", "webhook@inner", "hono.webhook@inner"],
  ["rate-limited (exact) / landing", "rate-limited@inner", "landing@inner"],
  ...(distance
    ? [
        [`health / Hono, database ${DELAY_MS} ms away`, "far.health@inner", "far.hono.health@inner"],
        [`webhook / Hono, database ${DELAY_MS} ms away`, "far.webhook@inner", "far.hono.webhook@inner"],
      ]
    : []),
  ...(BEFORE
    ? ["landing", "health", "dashboard", "rate-limited"].map((n) => [`${n}: this build / before`, `${n}@inner`, `before.${n}@inner`])
    : []),
];
const ratios = ratioRows.map(([label, a, b]) => {
  const each = rounds(a, b);
  return [label, median(each), spreadOf(each), each];
});
// The same pairs by the Worker's CPU per request (lower is cheaper): what a request costs the
// Worker itself, steadier than throughput where Postgres and wrk share the cores.
const cpuRatioRows = [
  ["landing / ceiling", "landing@inner", "ceiling@inner"],
  ["landing / Hono", "landing@inner", "hono.landing@inner"],
  ["health / Hono", "health@inner", "hono.health@inner"],
  ["webhook / Hono", "webhook@inner", "hono.webhook@inner"],
  ...(BEFORE ? ["landing", "health", "dashboard", "rate-limited"].map((n) => [`${n}: this build / before`, `${n}@inner`, `before.${n}@inner`]) : []),
];
const cpuRatios = cpuRatioRows.map(([label, a, b]) => {
  const each = rounds(a, b, "cpuMs");
  return [label, median(each), spreadOf(each), each];
});
const ratioOf = (label) => ratios.find(([l]) => l === label)[1];
const spreadOfRatio = (label) => ratios.find(([l]) => l === label)[2];
const SAME = "landing / ceiling with the same headers (Worker port)";
const BARE = "landing / ceiling (Worker port)";
const CONTROL = "ceiling again / ceiling (noise control)";
// Trustworthy: enough rounds, the noise control near 1 and steady, and the judged ratios steady.
const judged = [BARE, "health / Hono"];
const doubts = [
  ...(ROUNDS < 3 ? [`${ROUNDS} round(s); 3 or more are needed`] : []),
  ...(Math.abs(ratioOf(CONTROL) - 1) > 0.05 ? [`the noise control is ${fmt(ratioOf(CONTROL), 2)}×, not 1.00 ± 0.05`] : []),
  ...[CONTROL, ...judged].filter((l) => !(spreadOfRatio(l) <= MAX_SPREAD)).map((l) => `${l} spreads ${fmt(100 * spreadOfRatio(l))}% across rounds (over ${fmt(100 * MAX_SPREAD)}%)`),
];
const trustworthy = doubts.length === 0;
// A budget on a ratio is judged only on a trustworthy run; otherwise it says UNSURE.
const judge = (b) => (trustworthy || b.verdict === "SKIP" ? b : { ...b, verdict: "UNSURE" });
const dash = targets.find((t) => t.key === "dashboard@inner");
const startupSpan = median(startup.ours.map((s) => s.wallMs));
const startupRatios = startup.ours.map((s, i) => ratio(s.wallMs, startup.ceiling[i].wallMs));
const startupRatio = median(startupRatios);
const startupSpread = spreadOf(startupRatios);
const orSkip = (x) => (Number.isFinite(x) ? x : null);
// Round trips per request, from each target's probe (Server-Timing): deterministic, so judged
// on every run. Budgets of issue 23.
const tripsOf = (key) => targets.find((t) => t.key === key)?.timing?.db?.roundTrips;
const tripBudget = (label, key, limit) => {
  const t = targets.find((x) => x.key === key);
  const n = tripsOf(key);
  return budget(`${label}: ≤ ${limit} database round trip${limit === 1 ? "" : "s"}`, t?.skip || !Number.isFinite(n) ? null : n, limit, n <= limit,
    t?.skip ?? (Number.isFinite(n) ? `${n} (${t.db} connections / round trips)` : "no Server-Timing"));
};
const budgets = [
  budget("wasm ≤ 700 KiB gzip", orSkip(bundle.gzipKiB), 700, bundle.gzipKiB <= 700, `${fmt(bundle.gzipKiB, 1)} KiB`),
  judge(budget("landing ≥ 0.9× ceiling throughput (Worker port)", orSkip(ratioOf(BARE)), 0.9, ratioOf(BARE) >= 0.9,
    `${fmt(ratioOf(BARE), 2)}× ±${fmt(100 * spreadOfRatio(BARE))}% (${fmt(ratioOf(SAME), 2)}× a ceiling sending our headers)`)),
  judge(budget("health ≥ 1.0× Hono", orSkip(ratioOf("health / Hono")), 1.0, ratioOf("health / Hono") >= 1.0,
    `${fmt(ratioOf("health / Hono"), 2)}× ±${fmt(100 * spreadOfRatio("health / Hono"))}%`)),
  budget("webhook ≥ 1.0× Hono", orSkip(ratioOf("webhook / Hono")), 1.0, ratioOf("webhook / Hono") >= 1.0, targets.find((t) => t.key === "webhook@inner").skip ?? `${fmt(ratioOf("webhook / Hono"), 2)}×`),
  tripBudget("health", "health@inner", 1),
  tripBudget("signed-in dashboard", "dashboard@inner", 2),
  tripBudget("webhook (an event we do not act on)", "webhook@inner", 2),
  tripBudget("AgentWrite start (streamed)", "agentwrite@inner", 2),
  // Judged on its own profiles' spread: a wide one says UNSURE whatever the throughput rounds say.
  ((b) => (startupSpread <= MAX_SPREAD || b.verdict === "SKIP" ? b : { ...b, verdict: "UNSURE" }))(
    budget("Worker startup ≤ 1.2× the ceiling's (wrangler check startup)", orSkip(startupRatio), 1.2, startupRatio <= 1.2,
      `${fmt(startupRatio, 2)}× ±${fmt(100 * startupSpread)}% (${fmt(startupSpan, 1)} ms against ${fmt(median(startup.ceiling.map((s) => s.wallMs)), 1)} ms)`)),
];
// What distance costs: each far route's median latency beside the Hono peer's at the same
// distance, and what its round trips alone cost there (2 × the delay each).
const farRows = distance
  ? ["health", "webhook", "dashboard", "agentwrite"].map((n) => {
      const t = targets.find((x) => x.key === `far.${n}@inner`);
      const h = targets.find((x) => x.key === `far.hono.${n}@inner`);
      const trips = t?.timing?.db?.roundTrips;
      return {
        route: n,
        ours: t?.skip ? "skip" : fmt(t?.summary?.p50, 1),
        hono: h ? (h.skip ? "skip" : fmt(h.summary?.p50, 1)) : "",
        trips: Number.isFinite(trips) ? String(trips) : "",
        floor: Number.isFinite(trips) ? fmt(trips * 2 * DELAY_MS) : "",
        near: fmt(targets.find((x) => x.key === `${n}@inner`)?.summary?.p50, 1),
      };
    })
  : [];
const farTable = farRows.length
  ? [
      `at distance (database ${DELAY_MS} ms away each way; p50 ms under load, ${CONNECTIONS} connections):`,
      `  ${"route".padEnd(11)} ${"ours".padStart(8)} ${"Hono".padStart(8)} ${"near".padStart(8)}  round trips  their cost`,
      ...farRows.map((r) => `  ${r.route.padEnd(11)} ${r.ours.padStart(8)} ${r.hono.padStart(8)} ${r.near.padStart(8)}  ${r.trips.padStart(11)}  ${r.floor ? `${r.floor} ms` : ""}`),
      "",
    ]
  : [];

const loaded = quietLoad >= 0.5;
const machine = `${cpus().length} × ${cpus()[0]?.model?.trim() ?? "cpu"}; load average before the run ${quietLoad.toFixed(2)}, after ${endLoad.toFixed(2)}`;
const tbl = table(live.concat(targets.filter((t) => t.skip)).map((t) => ({ ...t, name: t.name, port: t.port })));
const coldLine = (n) => `${fmt(median(cold[n]))} ms`;
const startLine = (n) => `${fmt(median(startup[n].map((s) => s.wallMs)), 1)} ms`;
const text = [
  "",
  `GhostTools bench — ${new Date().toISOString().slice(0, 16)}Z, ${ROUNDS} interleaved round(s) of ${SECONDS} s, ${CONNECTIONS} connections, wrk 1 thread`,
  `machine: ${machine}${loaded ? "  ** LOADED: other processes were busy; compare ratios only, re-run on a quiet machine **" : ""}`,
  `pinning: ${PIN ? `wrk on CPU ${PIN.load}, the Workers on CPU ${PIN.workers} (taskset)` : "off"}`,
  trustworthy
    ? `verdict: TRUSTWORTHY run (noise control ${fmt(ratioOf(CONTROL), 2)}× ±${fmt(100 * spreadOfRatio(CONTROL))}%; judged ratios within ±${fmt(100 * MAX_SPREAD)}%)`
    : `verdict: ** TOO NOISY TO JUDGE **: ${doubts.join("; ")}. Throughput budgets say UNSURE; re-run on a quieter machine.`,
  "",
  tbl.text,
  "",
  "ratios (throughput; median of the rounds' own ratios, then each round's, and the spread):",
  ...ratios.map(([l, v, spread, each]) => `  ${l.padEnd(56)} ${fmt(v, 2).padStart(5)}×  [${each.map((x) => fmt(x, 2)).join(" ")}]  ±${fmt(100 * spread)}%`),
  "",
  "ratios of the Worker's CPU per request (lower is cheaper; same form):",
  ...cpuRatios.map(([l, v, spread, each]) => `  ${l.padEnd(56)} ${fmt(v, 2).padStart(5)}×  [${each.map((x) => fmt(x, 2)).join(" ")}]  ±${fmt(100 * spread)}%`),
  "",
  ...farTable,
  `bundle:   wasm ${fmt(bundle.rawKiB, 1)} KiB raw, ${fmt(bundle.gzipKiB, 1)} KiB gzip; total upload ${bundle.upload}`,
  `startup:  ours ${startLine("ours")}; ceiling ${startLine("ceiling")}; Hono ${startLine("hono")}; ours / ceiling ${fmt(startupRatio, 2)}× [${startupRatios.map((x) => fmt(x, 2)).join(" ")}] ±${fmt(100 * startupSpread)}%  (span of wrangler check startup's profile, ${STARTUP_PROFILES} each)`,
  `cold start (spawn wrangler dev → first 200): ours ${coldLine("ours")}; ceiling ${coldLine("ceiling")}; Hono ${coldLine("hono")}`,
  "",
  "budgets:",
  ...budgets.map((b) => `  ${b.verdict.padEnd(6)}  ${b.name.padEnd(62)} ${b.detail}`),
  "",
].join("\n");
process.stdout.write(text);

if (PROFILE) {
  const t = targets.find((x) => x.key === PROFILE || x.name === PROFILE);
  if (!t || t.skip) {
    say(`BENCH_PROFILE=${PROFILE}: no such target measured`);
  } else {
    say(`profiling ${t.key} for ${SECONDS} s`);
    const w = workers[t.worker];
    const file = t.fresh ? writeRequests(reqFile(t.key), t.requests()) : t.file;
    const lines = await profile({ inspector: w.inspector, port: t.port === "front" ? w.front : w.inner, file, seconds: SECONDS, connections: CONNECTIONS });
    process.stdout.write(`\nCPU profile of ${t.key}:\n${lines.join("\n")}\n`);
  }
}

const resultsDir = join(ROOT, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const markdown = [
  `Measured ${new Date().toISOString().slice(0, 16)}Z; ${ROUNDS} round(s) × ${SECONDS} s, ${CONNECTIONS} connections; ${machine}${loaded ? " — **loaded machine**" : ""}.`,
  "",
  tbl.markdown,
  "",
  trustworthy ? "The bench calls this run trustworthy." : `**Too noisy to judge:** ${doubts.join("; ")}.`,
  "",
  "| ratio | median | rounds | spread |", "| --- | --- | --- | --- |",
  ...ratios.map(([l, v, spread, each]) => `| ${l} | ${fmt(v, 2)}× | ${each.map((x) => fmt(x, 2)).join(", ")} | ±${fmt(100 * spread)}% |`),
  "",
  "| CPU per request (the Worker's process; lower is cheaper) | median | rounds | spread |", "| --- | --- | --- | --- |",
  ...cpuRatios.map(([l, v, spread, each]) => `| ${l} | ${fmt(v, 2)}× | ${each.map((x) => fmt(x, 2)).join(", ")} | ±${fmt(100 * spread)}% |`),
  ...(farRows.length
    ? ["", `At distance (database ${DELAY_MS} ms away each way), p50 ms:`, "",
        "| route | ours | Hono | ours, near | round trips | their cost |", "| --- | --- | --- | --- | --- | --- |",
        ...farRows.map((r) => `| ${r.route} | ${r.ours} | ${r.hono} | ${r.near} | ${r.trips} | ${r.floor ? `${r.floor} ms` : ""} |`)]
    : []),
  "",
  "| budget | verdict | value |", "| --- | --- | --- |", ...budgets.map((b) => `| ${b.name} | ${b.verdict} | ${b.detail} |`),
  "",
  `Bundle: wasm ${fmt(bundle.rawKiB, 1)} KiB raw, ${fmt(bundle.gzipKiB, 1)} KiB gzip; total upload ${bundle.upload}.`,
  `Startup (wrangler check startup): ours ${startLine("ours")}; ceiling ${startLine("ceiling")}; Hono ${startLine("hono")}; ours / ceiling ${fmt(startupRatio, 2)}×.`,
  `Cold start (spawn → first 200): ours ${coldLine("ours")}; ceiling ${coldLine("ceiling")}; Hono ${coldLine("hono")}.`,
  "",
].join("\n");
writeFileSync(join(resultsDir, "latest.md"), markdown);
writeFileSync(join(resultsDir, "latest.json"), JSON.stringify({ seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, machine, loaded, pin: PIN, delayMs: DELAY_MS, trustworthy, doubts, farRows, startupRatio, startupRatios, startupSpread, cpuRatios, bundle, startup, cold, targets: targets.map(({ requests, probe, ...t }) => t), ratios, budgets }, null, 2));
say(`results in bench/results/latest.{md,json}; fake OpenAI served ${fake.served()} requests`);
fake.server.close();
stopAll();
distance?.close();
process.exit(env.BENCH_STRICT === "1" && budgets.some((b) => b.verdict === "FAIL") ? 1 : 0);
