//! Parse-don't-validate types of the business. Pure: no I/O, no runtime types.

pub mod email;
pub mod email_links;
pub mod next_path;
pub mod payment;
pub mod person;

pub use credits::Credits;
pub use email::{EmailAddress, EmailError, Mailbox};
pub use next_path::NextPath;
pub use user::{User, UserId};
pub mod audio;
pub mod audio_duration;
pub mod audio_kind;
pub mod audio_split;
pub mod billing;
pub mod brief;
pub mod console;
pub mod copy;
pub mod credit_change;
pub mod credits;
pub mod device;
pub mod episode_parts;
pub mod excerpt;
pub mod item_id;
pub mod keyset;
pub mod ledger;
pub mod live_copy;
pub mod money;
pub mod mp3_frame;
pub mod show_notes;
pub mod stitch;
pub mod tool;
pub mod transcript;
pub mod usage;
pub mod user;
