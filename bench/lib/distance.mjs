// Distance to the database for the bench (BENCH_DB_DELAY_MS): a TCP relay in front of Postgres
// that holds every chunk for the given time in each direction, so a round trip costs twice it,
// like a Worker at the edge talking to an origin database through Hyperdrive.
//
// A connection's setup (startup, authentication, up to the server's first ReadyForQuery) is not
// delayed: Hyperdrive keeps its connections to the origin open and pooled, so in production a
// Worker's connect does not cross the distance; every statement after it does.
import { createServer, connect } from "node:net";

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

/** Starts the relay on a free loopback port; resolves to { port, close }. */
export function startDistance({ upstreamPort, delayMs }) {
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    let ready = false; // past the setup: delay from here on
    let clientBytes = 0;
    let sslAnswerPending = false;
    let pending = Buffer.alloc(0); // server bytes of a message not yet complete (setup only)
    const later = (to, chunk) => (ready && delayMs > 0 ? setTimeout(() => to.writable && to.write(chunk), delayMs) : to.write(chunk));
    client.on("data", (chunk) => {
      if (clientBytes === 0 && chunk.length >= 8 && chunk.subarray(0, 8).equals(SSL_REQUEST)) sslAnswerPending = true;
      clientBytes += chunk.length;
      later(upstream, chunk);
    });
    upstream.on("data", (chunk) => {
      if (!ready) watchSetup(chunk);
      // Ordered: every chunk waits the same time, and timers of equal delay fire in order.
      later(client, chunk);
    });
    // Reads the server's setup messages (type byte, 4-byte length) up to ReadyForQuery ('Z').
    function watchSetup(chunk) {
      pending = Buffer.concat([pending, chunk]);
      if (sslAnswerPending && pending.length > 0) {
        sslAnswerPending = false;
        pending = pending.subarray(1); // 'S' or 'N', one byte
      }
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (pending.length < 1 + length) return;
        const type = String.fromCharCode(pending[0]);
        pending = pending.subarray(1 + length);
        if (type === "Z") {
          // Whatever follows in this chunk is delayed from the next chunk on: fine for timing.
          ready = true;
          pending = Buffer.alloc(0);
          return;
        }
      }
    }
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", () => setTimeout(end, ready ? delayMs : 0));
    }
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    );
  });
}
