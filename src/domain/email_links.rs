//! The links we email, as whoever opens one finds them: a sign-in link (`LinkState`) and an
//! address-change link (`ChangeState`, and why confirming one changed nothing: `Refused`).
//! db/ reads them; sign_in/ acts on them; the routes say what they mean.

use crate::domain::UserId;

/// A link's state when someone opens it (GET never spends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// It can be spent, and signs in this address (the confirm page names it).
    Usable {
        email: String,
    },
    Used,
    Expired,
    Unknown,
}

/// What an address-change link is, when someone opens it (nothing is spent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeState {
    /// It can be confirmed: it moves `user_id`'s account to `new_email`.
    Usable {
        user_id: UserId,
        new_email: String,
    },
    Used,
    Expired,
    Unknown,
}

/// Why a confirmed link changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Used, expired or unknown.
    Link(ChangeState),
    /// The link is another account's (the signed-in user did not ask for it).
    OtherAccount,
    /// Another account has had the address since the link was sent.
    Taken,
}
