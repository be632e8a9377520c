//! Local fakes of outside services, speaking their wire formats and recording what they got.

pub mod multipart;
pub mod openai;
pub mod recorder;
pub mod sentry;
