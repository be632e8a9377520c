//! Local fakes of outside services, speaking their wire formats and recording what they got:
//! Stripe, OpenAI and Google live in the `ghosttools-fakes` crate (fakes/), shared with the
//! stand-ins `make dev` runs; Sentry and Rewardful, which only tests need, live here.

pub use ghosttools_fakes::{google, openai, recorder, stripe, stripe_wire};
pub mod rewardful;
pub mod sentry;
