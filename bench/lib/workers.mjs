// Workers under `wrangler dev` for the bench: start one in a process group of its own (its
// cold start timed from spawn to the first good answer), find the Worker's own port inside
// workerd, profile its startup, stop it again.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const running = new Set();
const stateDirs = new Set();

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Which cores the load generator and the Workers run on (`taskset`): apart, so that wrk and
 * workerd do not take turns on one core mid-run. On by default with two cores or more;
 * BENCH_PIN=0 turns it off. The bench's own Node process and Postgres are not pinned.
 */
export const PIN = (() => {
  if (process.env.BENCH_PIN === "0") return null;
  const n = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
  } catch {
    return null;
  }
  if (!(n >= 2)) return null;
  return { load: "0", workers: n === 2 ? "1" : `1-${n - 1}` };
})();

/** `command args` under taskset on `cpus`, or as is without pinning. */
export const pinned = (cpus, command, args) => (cpus ? ["taskset", ["-c", cpus, command, ...args]] : [command, args]);

/** A TOML basic string (JSON escapes are valid TOML for what we write). */
export const tomlString = (s) => JSON.stringify(String(s));

/**
 * The project's wrangler.toml for a run outside the project folder: no build step (make wasm
 * ran), absolute paths, Hyperdrive pointed at `databaseUrl`, and `vars` instead of its [vars].
 */
export function projectConfig(databaseUrl, vars) {
  const out = [];
  let section = "";
  for (const line of readFileSync(join(ROOT, "wrangler.toml"), "utf8").split("\n")) {
    if (/^\[/.test(line)) section = line.trim();
    if (section === "[build]" || section === "[vars]") continue;
    if (/^main = /.test(line)) out.push(`main = ${tomlString(join(ROOT, "build/worker/shim.mjs"))}`);
    else if (/^directory = /.test(line)) out.push(`directory = ${tomlString(join(ROOT, "static"))}`);
    else if (/^localConnectionString = /.test(line)) out.push(`localConnectionString = ${tomlString(databaseUrl)}`);
    else out.push(line);
  }
  out.push("[vars]", ...Object.entries(vars).map(([k, v]) => `${k} = ${tomlString(v)}`), "");
  return out.join("\n");
}

/**
 * Starts `wrangler dev` for the config text in `dir`. Resolves once `probePath` answers 200 on
 * the front port, with the front port, the Worker's own port and the cold start in ms.
 */
export async function startWorker({ name, dir, config, probePath = "/", timeoutMs = 120_000 }) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Durable Object storage (SQLite per object) in memory when the machine has /dev/shm: on a
  // shared disk its commits' fsyncs stall the whole local runtime (objects run in the
  // Worker's process here), which production does not see.
  const state = existsSync("/dev/shm") ? `/dev/shm/ghosttools-bench-${process.pid}/${name}` : join(dir, "state");
  rmSync(state, { recursive: true, force: true });
  stateDirs.add(state);
  const configPath = join(dir, "wrangler.toml");
  writeFileSync(configPath, config);
  const port = await freePort();
  const inspector = await freePort();
  const log = join(dir, "wrangler.log");
  const fd = openSync(log, "w");
  const env = { ...process.env, NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" };
  delete env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB;
  const started = performance.now();
  const child = spawn(
    ...pinned(PIN?.workers, WRANGLER, ["dev", "--config", configPath, "--ip", "127.0.0.1", "--port", String(port),
      "--inspector-port", String(inspector), "--persist-to", state, "--show-interactive-dev-session=false"]),
    { cwd: dir, env, detached: true, stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  const worker = { name, dir, log, pgid: child.pid, front: port, inspector, inner: null, coldStartMs: null };
  running.add(worker);
  let exited = null;
  child.on("exit", (code) => (exited = code ?? "signal"));
  const deadline = started + timeoutMs;
  for (;;) {
    if (exited !== null) throw new Error(`wrangler dev (${name}) exited (${exited}):\n${tail(log)}`);
    if (performance.now() > deadline) throw new Error(`wrangler dev (${name}) not ready in ${timeoutMs} ms:\n${tail(log)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(25);
  }
  worker.coldStartMs = performance.now() - started;
  worker.inner = await innerPort(worker, probePath);
  return worker;
}

/**
 * The Worker's own port: another loopback port of this wrangler's workerd that answers
 * `probePath` like the front does (the front is an entry proxy; see toolchain.md).
 */
async function innerPort(worker, probePath) {
  // A loaded machine can be slow to answer a first request on a port: try a few times.
  for (let attempt = 1; ; attempt++) {
    const port = await findInnerPort(worker, probePath);
    if (port || attempt === 3) return port ?? failInner(worker);
    await sleep(1000);
  }
}

function failInner(worker) {
  throw new Error(`cannot find the Worker's own port for ${worker.name}:\n${tail(worker.log)}`);
}

async function findInnerPort(worker, probePath) {
  const front = await fetch(`http://127.0.0.1:${worker.front}${probePath}`).then((r) => r.text());
  // workerd's own ports only: wrangler's Node side holds others (e.g. the local Hyperdrive
  // proxy, which a stray HTTP probe would make connect to Postgres).
  const pids = new Set(execFileSync("pgrep", ["-g", String(worker.pgid), "-x", "workerd"], { encoding: "utf8" }).split(/\s+/).filter(Boolean));
  const ports = new Set();
  for (const line of execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).split("\n")) {
    const m = line.match(/127\.0\.0\.1:(\d+)\s.*pid=(\d+),/);
    if (m && pids.has(m[2]) && ![worker.front, worker.inspector].includes(Number(m[1]))) ports.add(Number(m[1]));
  }
  for (const port of ports) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (res.status === 200 && body.slice(0, 200) === front.slice(0, 200)) return port;
    } catch {
      // not an HTTP port
    }
  }
  return null;
}

/**
 * CPU time (ms, user + system, every thread) the Worker's workerd processes have used so far:
 * read around each wrk run for the CPU each request costs. Throughput on two cores is shared
 * with Postgres and wrk; CPU per request is what the Worker itself spends (and what Cloudflare
 * bills), so it separates from noise what throughput cannot.
 */
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim() || 100);
export function cpuMs(worker) {
  worker.workerdPids ??= execFileSync("pgrep", ["-g", String(worker.pgid), "-x", "workerd"], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
  let ticks = 0;
  for (const pid of worker.workerdPids) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return NaN; // gone: no figure rather than a wrong one
    }
  }
  return ticks * TICK_MS;
}

export function stopWorker(worker) {
  if (!running.delete(worker)) return;
  try {
    process.kill(-worker.pgid, "SIGTERM");
  } catch {
    return;
  }
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    try {
      process.kill(-worker.pgid, 0);
    } catch {
      return;
    }
    execFileSync("sleep", ["0.1"]);
  }
  try {
    process.kill(-worker.pgid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
}

export function stopAll() {
  for (const w of [...running]) stopWorker(w);
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  stateDirs.clear();
  rmSync(`/dev/shm/ghosttools-bench-${process.pid}`, { recursive: true, force: true });
}

/**
 * The Worker's startup as `wrangler check startup` profiles it: the span of the profile, from
 * loading the script to the end of its global scope (for us: compiling and instantiating the
 * wasm). An upper bound: it includes the profiler's own overhead, which the trivial ceiling
 * Worker shows. (Samples are too sparse to sum CPU time from.)
 */
export function startupProfile(dir, configText) {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, "wrangler.toml");
  writeFileSync(configPath, configText);
  const outfile = join(dir, "startup.cpuprofile");
  rmSync(outfile, { force: true });
  execFileSync(...pinned(PIN?.workers, WRANGLER, ["check", "startup", "--config", configPath, "--outfile", outfile]), {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
  const p = JSON.parse(readFileSync(outfile, "utf8"));
  return { wallMs: (p.endTime - p.startTime) / 1000 };
}

export function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
