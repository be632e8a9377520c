// The bench's verdicts: medians over the interleaved rounds, ratios against the baselines,
// budgets as PASS/FAIL/SKIP, and the table (terminal and Markdown).

export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** How far apart values are: (max − min) / median; 0 for one value, NaN for none. */
export const spreadOf = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return NaN;
  return (Math.max(...v) - Math.min(...v)) / median(v);
};

export function summarize(runs) {
  return {
    rounds: runs.length,
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
    spread: runs.length > 1 ? Math.max(...runs.map((r) => r.rps)) / Math.min(...runs.map((r) => r.rps)) - 1 : 0,
  };
}

/** `Server-Timing: db;dur=3;desc="1 connection, 2 round trips", limiter;dur=0;desc="0 calls", …` */
export function parseServerTiming(header) {
  const out = {};
  // Metrics are separated by commas, which a quoted description may hold too.
  for (const metric of (header ?? "").match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const [name, ...params] = metric.trim().split(";");
    if (!name) continue;
    const m = { dur: NaN, desc: "" };
    for (const p of params) {
      const [k, v = ""] = p.split("=");
      if (k === "dur") m.dur = Number(v);
      if (k === "desc") m.desc = v.replace(/^"|"$/g, "");
    }
    const n = (word) => Number((m.desc.match(new RegExp(`(\\d+) ${word}`)) ?? [])[1]);
    m.connections = n("connections?");
    m.roundTrips = n("round trips?");
    m.calls = n("calls?");
    out[name] = m;
  }
  return out;
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);

export function budget(name, value, limit, pass, detail) {
  return { name, verdict: value === null ? "SKIP" : pass ? "PASS" : "FAIL", value, limit, detail };
}

export function table(rows) {
  const head = ["target", "port", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "db (conn / round trips)", "limiter calls", "notes"];
  const body = rows.map((r) => [
    r.name,
    r.port,
    r.skip ? "skip" : fmt(r.summary.rps),
    r.skip ? "" : fmt(r.summary.p50, 2),
    r.skip ? "" : fmt(r.summary.p99, 2),
    r.skip ? "" : fmt(r.summary.cpuMs, 3),
    r.db ?? "",
    r.limiter ?? "",
    r.skip ?? r.note ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ");
  const md = (cells) => `| ${cells.join(" | ")} |`;
  return {
    text: [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n"),
    markdown: [md(head), md(head.map(() => "---")), ...body.map(md)].join("\n"),
  };
}

export { fmt };
