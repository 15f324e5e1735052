//! `devbox compose`: the compose model and loader (pure), ordering and reconciliation.

pub mod dotenv;
pub mod interpolate;
pub mod yaml;
