//! The rules of the business, between thin handlers and the db/clients below.

pub mod billing;
pub mod referrals;
