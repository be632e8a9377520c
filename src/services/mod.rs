//! The rules of the business, between thin handlers and the db/clients below.

pub mod account;
pub mod agentwrite;
pub mod agentwrite_backstop;
pub mod billing;
pub mod console;
pub mod dashboard;
pub mod episode_upload;
pub mod history;
pub mod notices;
pub mod operator;
pub mod podscribe;
pub mod podscribe_chunks;
pub mod podscribe_settle;
pub mod referrals;
pub mod run_message;
pub mod run_queue;
pub mod runs;
pub mod sweep;
pub mod transcripts;
pub mod welcome;
