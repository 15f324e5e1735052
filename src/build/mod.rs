//! `devbox build`: Dockerfile parsing (pure), planning and execution.

pub mod builder;
pub mod cache;
pub mod commit;
pub mod copy;
pub mod dockerfile;
pub mod executor;
pub mod files;
pub mod ignore;
pub mod layer_write;
pub mod plan;
pub mod secrets;
pub mod snapshot;
pub mod stage;
