//! The rules of the business, between thin handlers and the database/outside clients.

pub mod agentwrite;
pub mod podscribe;
pub mod runs;
