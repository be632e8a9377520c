//! Rate limits: one sliding-window limiter (a Durable Object per subject) for the whole edge.
//!
//! # Using it from a feature
//!
//! A handler counts its costly action against a policy, before doing it:
//!
//! ```ignore
//! // AI generation, per caller (the signed-in user, else the client IP):
//! cx.limit(Policy::AiGeneration, &cx.subject).await?;
//! // Sign-in emails, per address *and* per IP (two windows, two objects):
//! cx.limit(Policy::SignInEmailPerAddress, &Subject::email(address.as_str())).await?;
//! cx.limit(Policy::SignInEmailPerIp, &cx.subject).await?;
//! ```
//!
//! `?` turns a refusal into `AppError::TooManyRequests` (429 with `Retry-After`: an HTML page,
//! or JSON under `/api/`), and a limiter outage on a fail-closed policy into a 503. Every
//! decision is recorded in the `Ctx`; `app` puts the `RateLimit-Limit`/`-Remaining`/`-Reset`/
//! `-Policy` headers of the tightest one on whatever response the handler returns.
//!
//! Before routing, `app` already counts every request against its route class (`Pages`,
//! `GeneralApi`, `StripeWebhook`), so handlers only add the policies of their costly action.
//!
//! Policies are counted in one of two ways (a column of the table): `Exact` policies (everything
//! that fails closed) ask the subject's limiter for every request; `Batched` ones (the lenient
//! route classes, which fail open) are counted in the isolate and reported in batches after the
//! response, and become exact again near their limit (`tally`). That keeps a Durable Object
//! write off the path of every page view.
//!
//! # Pieces
//!
//! - `policy`: the one table (limit, window, fail mode per policy); `overrides`: `RATE_LIMITS`.
//! - `subject`: who is counted; `Ctx::rate_limit_subject` is the one place that decides it per
//!   request.
//! - `window`: the exact sliding-window algorithm; `object`: the Durable Object running it on
//!   SQLite; `client`: the typed, time-bounded call to it; `tally`: batched counting in the
//!   isolate; `enforce`: decisions, the local memory of refusals, fail open/closed, logs and
//!   Sentry.

pub mod client;
pub mod enforce;
pub mod object;
pub mod overrides;
pub mod policy;
pub mod subject;
pub mod tally;
pub mod window;

pub use enforce::{Decision, Limiter};
pub use object::RateLimiter;
pub use overrides::RateLimits;
pub use policy::{Counting, FailMode, Policy, Rule};
pub use subject::Subject;
