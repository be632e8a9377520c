//! Proof of who is asking, as pure formats: session tokens (`session`, a JWT in a `Cookie`), CSRF
//! tokens (`csrf`), the OAuth flow cookie (`oauth_state`) and Google's ID tokens (`id_token`).
//! The request-level flows built on them live in `sign_in`, and `Ctx` reads the session.

pub mod csrf;
pub mod id_token;
pub mod jwt_crypto;
pub mod oauth_state;
pub mod session;
