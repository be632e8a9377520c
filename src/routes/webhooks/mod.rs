//! Endpoints that outside services call (not browsers): signed, JSON in and out.

pub mod stripe;
