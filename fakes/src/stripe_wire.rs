//! Stripe's wire format for the fake: parsing bracket-nested form bodies the way Stripe does,
//! error bodies, and signing webhook payloads (`t=…,v1=…`) and posting them as Stripe does —
//! written independently of the Worker's own code, so a mistake there cannot hide behind the same mistake here.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

/// `line_items[0][price]=p&metadata[user_id]=7` → `{"line_items":[{"price":"p"}],"metadata":{"user_id":"7"}}`.
/// Every leaf is a string (as Stripe receives it); objects whose keys are all indices become arrays.
pub fn parse_form(body: &[u8]) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(body) {
        let mut path: Vec<String> = Vec::new();
        let (head, rest) =
            key.split_once('[').map(|(h, r)| (h, format!("[{r}"))).unwrap_or((&key, String::new()));
        path.push(head.to_string());
        for part in rest.split('[').skip(1) {
            path.push(part.trim_end_matches(']').to_string());
        }
        insert(&mut root, &path, Value::String(value.into_owned()));
    }
    arrays(root)
}

fn insert(node: &mut Value, path: &[String], value: Value) {
    let Value::Object(map) = node else { return };
    if path.len() == 1 {
        map.insert(path[0].clone(), value);
        return;
    }
    let child = map.entry(path[0].clone()).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    insert(child, &path[1..], value);
}

fn arrays(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let indexed = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
            if indexed {
                let mut items: Vec<(usize, Value)> =
                    map.into_iter().map(|(k, v)| (k.parse().unwrap(), arrays(v))).collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
            }
        }
        other => other,
    }
}

/// `{"error":{...}}` as Stripe sends it.
pub fn error(kind: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Value {
    let mut e = json!({ "type": kind, "message": message });
    if let Some(c) = code {
        e["code"] = json!(c);
    }
    if let Some(p) = param {
        e["param"] = json!(p);
    }
    json!({ "error": e })
}

pub fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(message);
    hex::encode(m.finalize().into_bytes())
}

/// The `Stripe-Signature` header for `body` signed at `t` with each secret (one `v1` each,
/// as Stripe sends while a secret is being rolled).
pub fn signature_header(body: &[u8], t: u64, secrets: &[&str]) -> String {
    let signed = [format!("{t}.").as_bytes(), body].concat();
    let mut header = format!("t={t}");
    for s in secrets {
        header.push_str(&format!(",v1={}", hmac_hex(s, &signed)));
    }
    header
}

/// POSTs a webhook event's bytes with Stripe's headers; answers the status and body.
pub async fn post_event(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    signature: Option<String>,
) -> (u16, String) {
    let mut req = http
        .post(url)
        .header("content-type", "application/json; charset=utf-8")
        .header("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .body(body);
    if let Some(sig) = signature {
        req = req.header("stripe-signature", sig);
    }
    // A delivery that got no answer at all (the connection dropped) is delivered again, as
    // Stripe does; seen locally while Postgres stops, when workerd's Hyperdrive passthrough can
    // drop a request (tests/e2e/faults_database.rs).
    let again = req.try_clone().expect("an event body is bytes");
    let res = match req.send().await {
        Ok(res) => res,
        Err(e) if e.is_request() || e.is_connect() => {
            eprintln!("deliver event: no answer ({e}); delivered again, as Stripe would");
            again.send().await.expect("deliver event (again)")
        }
        Err(e) => panic!("deliver event: {e}"),
    };
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}
