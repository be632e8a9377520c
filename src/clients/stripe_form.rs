//! Stripe's request encoding: `application/x-www-form-urlencoded` with bracket nesting and
//! indexed arrays, byte for byte as the official Node library sends it (`qs.stringify` in RFC 3986
//! mode, then `%5B`/`%5D` turned back into `[`/`]`):
//! `line_items[0][price]=price_1&line_items[0][quantity]=1&metadata[user_id]=42`.

use serde_json::Value;

/// An ordered list of form fields; keys are paths (`["metadata", "user_id"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripeForm {
    pairs: Vec<(String, String)>,
}

impl StripeForm {
    pub fn new() -> StripeForm {
        StripeForm::default()
    }

    /// A field at `path`: `["line_items", "0", "price"]` becomes `line_items[0][price]`.
    pub fn field(mut self, path: &[&str], value: impl ToString) -> StripeForm {
        self.pairs.push((key(path), value.to_string()));
        self
    }

    /// A field only when there is a non-empty value: Stripe reads an empty string as "unset"
    /// (and Checkout rejects a blank `client_reference_id`), so absent means absent.
    pub fn optional(self, path: &[&str], value: Option<&str>) -> StripeForm {
        match value {
            Some(v) if !v.is_empty() => self.field(path, v),
            _ => self,
        }
    }

    /// Flattens a JSON value under `path` the way `qs` does: objects nest with `[key]`, arrays
    /// with `[index]`, booleans and numbers as text, `null` left out.
    pub fn json(mut self, path: &[&str], value: &Value) -> StripeForm {
        flatten(&mut self.pairs, &key(path), value);
        self
    }

    /// The decoded pairs, in order (for tests and logs).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&escape(k));
            out.push('=');
            out.push_str(&escape(v));
        }
        out
    }
}

fn key(path: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in path.iter().enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            out.push('[');
            out.push_str(part);
            out.push(']');
        }
    }
    out
}

fn flatten(out: &mut Vec<(String, String)>, prefix: &str, value: &Value) {
    let child = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}[{k}]") };
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(out, &child(&i.to_string()), item);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(out, &child(k), v);
            }
        }
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters, except that brackets stay
/// literal (what the Node library does to the whole string after `qs`).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'[' | b']' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_and_indexed_arrays_keep_their_brackets_unescaped() {
        let form = StripeForm::new()
            .field(&["mode"], "payment")
            .field(&["line_items", "0", "price"], "price_123")
            .field(&["line_items", "0", "quantity"], 1)
            .field(&["metadata", "user_id"], 42);
        assert_eq!(
            form.encode(),
            "mode=payment&line_items[0][price]=price_123&line_items[0][quantity]=1&metadata[user_id]=42"
        );
    }

    #[test]
    fn values_are_percent_encoded_like_qs_in_rfc3986_mode() {
        let form = StripeForm::new()
            .field(&["success_url"], "https://x.test/billing/success?session_id={CHECKOUT_SESSION_ID}")
            .field(&["a"], "x y&z=1+2%")
            .field(&["b"], "é😀")
            .field(&["c"], "keep-_.~");
        assert_eq!(
            form.encode(),
            "success_url=https%3A%2F%2Fx.test%2Fbilling%2Fsuccess%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D\
             &a=x%20y%26z%3D1%2B2%25&b=%C3%A9%F0%9F%98%80&c=keep-_.~"
        );
    }

    #[test]
    fn brackets_are_literal_everywhere_as_the_node_library_sends_them() {
        // The Node library replaces %5B/%5D in the whole string, values included.
        let form = StripeForm::new().field(&["metadata", "note"], "a[b]");
        assert_eq!(form.encode(), "metadata[note]=a[b]");
    }

    #[test]
    fn absent_and_empty_optional_fields_are_left_out_entirely() {
        let form = StripeForm::new()
            .optional(&["client_reference_id"], None)
            .optional(&["client_reference_id"], Some(""))
            .field(&["mode"], "payment");
        assert_eq!(form.encode(), "mode=payment");
        let form = StripeForm::new().optional(&["client_reference_id"], Some("ref-1"));
        assert_eq!(form.encode(), "client_reference_id=ref-1");
    }

    #[test]
    fn json_flattens_objects_arrays_booleans_and_skips_null() {
        let form = StripeForm::new()
            .json(&["metadata"], &json!({ "user_id": "7" }))
            .json(&["expand"], &json!(["line_items", "subscription"]))
            .json(&["allow_promotion_codes"], &json!(true))
            .json(&["x"], &json!({ "deep": [{ "k": 1 }], "none": null, "empty": [] }));
        assert_eq!(
            form.encode(),
            "metadata[user_id]=7&expand[0]=line_items&expand[1]=subscription&allow_promotion_codes=true\
             &x[deep][0][k]=1"
        );
    }

    #[test]
    fn keys_are_escaped_too_except_brackets() {
        let form = StripeForm::new().field(&["metadata", "plan name"], "pro");
        assert_eq!(form.encode(), "metadata[plan%20name]=pro");
    }

    #[test]
    fn the_encoding_round_trips_through_a_standard_form_parser() {
        let form = StripeForm::new()
            .field(&["line_items", "0", "price"], "price_1")
            .field(&["metadata", "note"], "50% off & more = fun")
            .field(&["cancel_url"], "https://x.test/pricing?a=1&b=2");
        let parsed: Vec<(String, String)> =
            url::form_urlencoded::parse(form.encode().as_bytes()).into_owned().collect();
        assert_eq!(parsed, form.pairs());
    }
}
