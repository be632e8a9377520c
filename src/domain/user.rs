//! A signed-in user, as the database knows them: who the session belongs to.

/// A signed-in user, as verified against the database for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// Bumped by "sign out everywhere": tokens issued under an older version stop working.
    pub session_version: i32,
}
