// The ceiling for `make bench`: the least a Worker can do for a page — return fixed bytes.
// page.html is our own landing page as served in this run (written by bench/run.mjs), so the
// two send the same body and only the work done to produce it differs.
import PAGE from "./page.html";

export default {
  fetch() {
    return new Response(PAGE, { headers: { "Content-Type": "text/html; charset=utf-8" } });
  },
};
