//! Thin handlers, one module per feature: parse → authorize → call a service → render.

pub mod debug;
pub mod errors;
pub mod health;
pub mod pages;
