//! Parse-don't-validate types of the business. Pure: no I/O, no runtime types.

pub mod email;
pub mod next_path;
pub mod person;

pub use email::{EmailAddress, EmailError, Mailbox};
pub use next_path::NextPath;
pub mod billing;
pub mod money;
