//! Local fakes of outside services, speaking their wire formats and recording what they got.
//! The end-to-end suite drives them (tests/e2e/support/fakes re-exports them); `make dev` runs
//! them as stand-ins (src/bin/standins.rs) when no Stripe, OpenAI or Google keys are set.

pub mod audio_secs;
pub mod google;
mod google_page;
pub mod multipart;
pub mod openai;
pub mod openai_text;
mod page;
pub mod recorder;
pub mod stripe;
pub mod stripe_documents;
pub mod stripe_pages;
pub mod stripe_payments;
pub mod stripe_server;
pub mod stripe_state;
pub mod stripe_wire;

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}
