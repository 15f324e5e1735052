//! `devbox build`: Dockerfile parsing (pure), planning and execution.

pub mod dockerfile;
pub mod ignore;
pub mod plan;
pub mod stage;
