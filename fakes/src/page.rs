//! The look of the stand-ins' pages (hosted checkout, billing portal, Google's sign-in): plain
//! HTML with a little inline CSS, each page marked as a local stand-in so nobody mistakes it
//! for the real service.

/// `s` safe inside HTML text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A whole page: `service` names what it stands in for (in the banner), `body` is HTML whose
/// sections sit side by side on a wide screen when `columns`.
pub fn page(title: &str, service: &str, accent: &str, columns: bool, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{title}</title><style>{CSS}\
         :root{{--accent:{accent}}}</style></head><body>\
         <p class=\"standin\" role=\"note\">Local stand-in for {service} — nothing here is real</p>\
         <main class=\"{class}\">{body}</main></body></html>",
        title = esc(title),
        service = esc(service),
        class = if columns { "two" } else { "one" },
    )
}

const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1f36;\
background:#f6f8fa}.standin{margin:0;padding:.4rem 1rem;background:#fff3cd;color:#5c4400;text-align:center;\
font-size:.9rem}main{max-width:60rem;margin:2rem auto;padding:0 1rem;display:grid;gap:2rem}\
main>*{min-width:0}h1,h2,p,li{overflow-wrap:anywhere}@media(min-width:48rem){main.two{grid-template-columns:1fr 1fr;align-items:start}}section{background:#fff;border-radius:8px;\
padding:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.4rem;margin:0 0 .5rem}\
.amount{font-size:2rem;font-weight:600}label{display:block;margin:.8rem 0 .2rem;font-size:.9rem;color:#3c4257}\
input,select{width:100%;padding:.6rem;border:1px solid #c9ced6;border-radius:6px;font:inherit}\
.row{display:flex;gap:.5rem}.row>div{flex:1;min-width:0}button{margin-top:1rem;width:100%;padding:.7rem;border:0;border-radius:6px;\
background:var(--accent);color:#fff;font:inherit;font-weight:600;cursor:pointer}\
button.secondary{background:#fff;color:var(--accent);border:1px solid var(--accent)}\
.error{color:#b00020;font-weight:600}.hint{color:#697386;font-size:.85rem}a{color:var(--accent)}\
ul.plans{list-style:none;padding:0}ul.plans li{border-top:1px solid #e3e8ee;padding:1rem 0}";
