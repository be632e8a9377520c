//! Forms: the urlencoded body parser (`Form::parse`), Stripe's request encoding read back by it,
//! and the multipart `boundary` of an upload's Content-Type (the runtime parses the multipart
//! body itself; what the Worker reads of it is the boundary, the file's name and its bytes —
//! the name and bytes are fuzzed in `audio.rs`).

use crate::alloc::bounded;
use crate::config;
use crate::strategies::{bytes, text};
use ghosttools::clients::stripe_form::StripeForm;
use ghosttools::routes::input::Form;
use ghosttools::routes::tools::upload::boundary;
use proptest::prelude::*;
use serde_json::Value;

const FORM_PIECES: &[&str] =
    &["&", "=", "+", "%", "%2", "%C3%A9", "%FF", "%%", "csrf", "a", "[", "]", ";", "\u{0}"];
const CT_PIECES: &[&str] =
    &["multipart/form-data", ";", "boundary=", "\"", " ", "=", "----x", "Boundary", "charset=utf-8", ","];

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((any::<String>(), any::<String>()), 0..12)
}

fn assert_fields(form: &Form, pairs: &[(String, String)]) -> Result<(), TestCaseError> {
    for (k, _) in pairs {
        let expected: Vec<&str> = pairs.iter().filter(|(k2, _)| k2 == k).map(|(_, v)| v.as_str()).collect();
        prop_assert_eq!(form.all(k), expected.clone(), "field {:?}", k);
        prop_assert_eq!(form.get(k), expected.first().copied());
    }
    Ok(())
}

/// JSON a Stripe request could carry (metadata, line items): nested objects and arrays.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(1))]

    /// Every `k=v` piece becomes two Strings: 48 bytes in the field list, whose capacity is up
    /// to twice its length, and while it grows the old block is live too (3 × 48); the
    /// shortest piece, `=&`, is 2 bytes: at most 72 (+ the bytes of the Strings) a byte of
    /// body. A 64 KiB form (the limit) peaks under 5 MiB.
    #[test]
    fn a_form_body_of_any_bytes_parses(body in prop_oneof![bytes(4096), text(FORM_PIECES).prop_map(String::into_bytes)]) {
        let form = bounded("Form::parse", body.len(), 80, 1024, || Form::parse(&body));
        let _ = form.get("csrf");
    }

    #[test]
    fn urlencoded_fields_round_trip(pairs in pairs()) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        assert_fields(&Form::parse(body.as_bytes()), &pairs)?;
    }

    /// What we send Stripe reads back as the fields we meant (Stripe parses the same format).
    #[test]
    fn stripe_request_encoding_round_trips(pairs in pairs(), value in json()) {
        let mut form = StripeForm::new();
        for (k, v) in &pairs {
            form = form.field(&[k.as_str()], v);
        }
        let form = form.json(&["metadata"], &value);
        let parsed = Form::parse(form.encode().as_bytes());
        assert_fields(&parsed, form.pairs())?;
    }

    #[test]
    fn the_multipart_boundary_of_any_content_type(ct in text(CT_PIECES)) {
        let n = ct.len();
        if let Some(b) = bounded("boundary", n, 0, 0, || boundary(&ct)) {
            prop_assert!(!b.is_empty() && b.len() <= 200 && !b.contains(';') && !b.starts_with('"'));
            prop_assert!(ct.to_ascii_lowercase().trim_start().starts_with("multipart/form-data"));
        }
    }
}
