// Load for the bench: raw HTTP requests written to a file for bench/wrk/requests.lua, and wrk
// runs bounded in time against 127.0.0.1 only.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PIN, pinned, ROOT } from "./workers.mjs";

/** A raw HTTP/1.1 request (keep-alive). `headers` is an object; a body gets its length. */
export function rawRequest(method, path, headers = {}, body = "") {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: localhost"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body || method === "POST") lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** Writes requests as the Lua script reads them: "<byte length>\n<bytes>" each. */
export function writeRequests(file, requests) {
  const parts = [];
  for (const r of requests) {
    const bytes = Buffer.from(r);
    parts.push(Buffer.from(`${bytes.length}\n`), bytes);
  }
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

/**
 * One wrk run: `connections` connections on one thread for `seconds`, cycling through the
 * requests in `file`. Returns throughput, latency percentiles (ms) and error counts.
 */
export function runWrk({ port, file, seconds, connections }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "-s", join(ROOT, "bench/wrk/requests.lua"), `http://127.0.0.1:${port}/`, "--", file];
  return new Promise((resolve, reject) => {
    execFile(...pinned(PIN?.load, "wrk", args), { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const line = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (!line) return reject(new Error(`wrk printed no result:\n${stdout}\n${stderr}`));
      const r = JSON.parse(line.slice("BENCH_JSON ".length));
      const errors = r.connect_errors + r.read_errors + r.write_errors + r.timeouts;
      resolve({
        requests: r.requests,
        rps: r.requests / (r.duration_us / 1e6),
        p50: r.p50_us / 1000,
        p90: r.p90_us / 1000,
        p99: r.p99_us / 1000,
        max: r.max_us / 1000,
        non2xx: r.status_errors,
        socketErrors: errors,
      });
    });
  });
}
