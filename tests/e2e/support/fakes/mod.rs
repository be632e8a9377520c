//! Local fakes of outside services, speaking their wire formats and recording what they got.

pub mod google;
pub mod multipart;
pub mod openai;
pub mod recorder;
pub mod rewardful;
pub mod sentry;
pub mod stripe;
pub mod stripe_payments;
pub mod stripe_server;
pub mod stripe_wire;
