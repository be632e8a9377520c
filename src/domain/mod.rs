//! Parse-don't-validate types of the business. Pure: no I/O, no runtime types.

pub mod billing;
pub mod money;
