// A CPU profile of a Worker under load, through workerd's inspector (wrangler dev's
// --inspector-port): where the isolate spends its time, by function. `BENCH_PROFILE=<target>`
// makes `make bench` print one after its measurements (the "profile, then fix" step).
//
// Locally the rate limiter's Durable Object runs in the same isolate, so its work shows here
// too (fetch, exec, setAlarm); in production it runs elsewhere.
import { createRequire } from "node:module";
import { runWrk } from "./load.mjs";
import { ROOT } from "./workers.mjs";

// The WebSocket client that wrangler itself depends on (Node 20 has none built in).
const WebSocket = createRequire(`${ROOT}/package.json`)("ws");

/** Profiles while wrk drives `file` at `port`; returns the lines to print. */
export async function profile({ inspector, port, file, seconds = 5, connections = 8, top = Number(process.env.BENCH_PROFILE_TOP ?? 40) }) {
  const targets = await fetch(`http://127.0.0.1:${inspector}/json`).then((r) => r.json());
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const msg = JSON.parse(m);
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  try {
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: 100 });
    await call("Profiler.start");
    const load = await runWrk({ port, file, seconds, connections });
    const p = (await call("Profiler.stop")).result.profile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    const parent = new Map(p.nodes.flatMap((n) => (n.children ?? []).map((c) => [c, n.id])));
    const nameOf = (f) => {
      const where = f.functionName ? "" : `@${f.scriptId}:${f.lineNumber}:${f.columnNumber}`;
      return `${f.functionName || "(anonymous)"} ${f.url ? f.url.replace(/.*\//, "") : ""}${where}`.trim();
    };
    const self = new Map();
    // Inclusive time: a sample counts once for every distinct function on its stack.
    const inclusive = new Map();
    let total = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const dt = p.timeDeltas[i + 1] ?? 0;
      const name = nameOf(nodes.get(p.samples[i]));
      self.set(name, (self.get(name) ?? 0) + dt);
      const seen = new Set();
      for (let id = p.samples[i]; id !== undefined; id = parent.get(id)) seen.add(nameOf(nodes.get(id)));
      for (const n of seen) inclusive.set(n, (inclusive.get(n) ?? 0) + dt);
      total += dt;
    }
    // Anonymous functions (wasm-bindgen's glue) are named by the start of their source.
    await call("Debugger.enable");
    const sources = new Map();
    const source = async (scriptId) => {
      if (!sources.has(scriptId)) sources.set(scriptId, (await call("Debugger.getScriptSource", { scriptId })).result?.scriptSource ?? "");
      return sources.get(scriptId);
    };
    const lines = [`${load.rps.toFixed(0)} req/s while profiling; ${(total / 1000).toFixed(0)} ms sampled; self time by function:`];
    // The Worker's own Rust code in total (a named build names each function by its crate).
    const wasm = [...self].filter(([name]) => /\.wasm/.test(name));
    const share = (list) => ((100 * list.reduce((sum, [, us]) => sum + us, 0)) / total).toFixed(1);
    lines.push(`${share(wasm)}% in wasm functions (${share(wasm.filter(([n]) => n.startsWith("ghosttools::")))}% in ghosttools::)`);
    for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      let label = name;
      const m = name.match(/@(\d+):(-?\d+):(-?\d+)$/);
      if (m && Number(m[2]) >= 0) {
        const text = (await source(m[1])).split("\n");
        const at = Number(m[2]);
        const snippet = [(text[at] ?? "").slice(Number(m[3])), ...text.slice(at + 1, at + 3)].map((l) => l.trim()).join(" ");
        label = `${name.replace(/@.*/, "")}: ${snippet}`;
      }
      lines.push(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${label.slice(0, 160)}`);
    }
    if (process.env.BENCH_PROFILE_INCLUSIVE) {
      const match = new RegExp(process.env.BENCH_PROFILE_INCLUSIVE);
      lines.push(`inclusive time of functions matching ${match}:`);
      for (const [name, us] of [...inclusive].filter(([n]) => match.test(n)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
        lines.push(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 160)}`);
      }
    }
    return lines;
  } finally {
    ws.close();
  }
}
