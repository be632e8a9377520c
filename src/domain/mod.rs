//! Parse-don't-validate types of the business. Pure: no I/O, no runtime types.

pub mod audio;
pub mod audio_duration;
pub mod brief;
pub mod copy;
pub mod item_id;
pub mod show_notes;
pub mod transcript;
