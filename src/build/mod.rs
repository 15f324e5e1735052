//! `devbox build`: Dockerfile parsing (pure), planning and execution.

pub mod copy;
pub mod dockerfile;
pub mod files;
pub mod ignore;
pub mod layer_write;
pub mod plan;
pub mod stage;
