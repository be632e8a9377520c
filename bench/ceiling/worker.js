// The ceiling for `make bench`: the least a Worker can do for a page — return a fixed response.
// page.html is our own landing page as served in this run and headers.json the headers it is
// sent with (both written by bench/run.mjs), so the ceiling and our Worker send the same
// bytes and only the work done to produce them differs. The bare ceiling's headers.json holds
// Content-Type alone: what a Worker with no security headers would send.
import PAGE from "./page.html";
import HEADERS from "./headers.json";

export default {
  fetch() {
    return new Response(PAGE, { headers: HEADERS });
  },
};
