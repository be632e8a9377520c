//! Stripe's webhook events: the body is parsed after its signature verified, but a bug or an
//! API change must still never panic: any bytes as an `Event`, any JSON as each object we read.

use crate::alloc::bounded;
use crate::config;
use crate::strategies::text;
use ghosttools::clients::stripe_objects::{CheckoutSession, Event, Invoice, Price, Subscription};
use proptest::prelude::*;
use serde_json::{json, Value};

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"id\"",
    "\"type\"",
    "\"data\"",
    "\"object\"",
    "\"items\"",
    "\"price\"",
    "\"metadata\"",
    "\"customer\"",
    "\"parent\"",
    "null",
    "true",
    "1",
    "-1",
    "1e400",
    "\"x\"",
    "9223372036854775808",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::String),
    ];
    let keys = "id|type|object|status|items|data|price|metadata|customer|subscription|invoice|parent|subscription_details|recurring|product|current_period_start|current_period_end|amount_due|unit_amount|mode|payment_status|[a-z]{1,4}";
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn any_body_as_an_event(body in text(PIECES)) {
        let n = body.len();
        let event = bounded("Event", n, 64, 4096, || serde_json::from_str::<Event>(&body));
        if let Ok(e) = event {
            let _ = (e.object_id(), e.object::<CheckoutSession>().is_ok());
        }
    }

    #[test]
    fn any_json_as_each_object_we_read(object in json()) {
        let e: Event = serde_json::from_value(json!({"id": "evt_1", "type": "x", "data": {"object": object}})).unwrap();
        let _ = e.object_id();
        if let Ok(s) = e.object::<CheckoutSession>() { let _ = s.is_paid(); }
        if let Ok(s) = e.object::<Subscription>() { let _ = (s.price(), s.period()); }
        if let Ok(i) = e.object::<Invoice>() { let _ = i.subscription_id(); }
        if let Ok(p) = e.object::<Price>() { let _ = p.product_object(); }
    }
}
