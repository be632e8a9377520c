//! Typed clients for outside services. Each takes its base URL from configuration so tests and
//! local runs can point it at a fake on 127.0.0.1.

pub mod google;
pub mod openai;
pub mod rewardful;
pub mod smtp;
pub mod stripe;
pub mod stripe_charges;
pub mod stripe_form;
pub mod stripe_objects;
pub mod stripe_signature;
pub mod uploads;
pub mod webcrypto;
