//! A signed-in user, as the database knows them: who the session belongs to, and the id that
//! names them everywhere (sessions, rows, limiter keys, Stripe metadata).

use crate::domain::EmailAddress;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's id (`users.id`). Only db/ turns it into a column and back; above it, it is only
/// compared, printed (limiter keys, references, Stripe metadata) and parsed from a path or a
/// session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[repr(transparent)]
pub struct UserId(i64);

impl UserId {
    pub const fn new(id: i64) -> UserId {
        UserId(id)
    }

    /// The number, for db/ (the column) and for the few texts that embed it.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// From a path segment, a session token's subject or Stripe metadata: digits only.
impl FromStr for UserId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<UserId, Self::Err> {
        s.parse().map(UserId)
    }
}

/// A signed-in user, as verified against the database for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Parsed when read (db): every stored address was parsed before it was stored.
    pub email: EmailAddress,
    /// Bumped by "sign out everywhere": tokens issued under an older version stop working.
    pub session_version: i32,
}
