//! `devbox compose`: the compose model and loader (pure), ordering and config rendering.
//!
//! The loader does no I/O: the command reads the compose files (and `.env`, and the env files
//! that [`Loaded::env_file_paths`] names) and passes their texts in.
//!
//! ```text
//! LoadInput { files, env, dotenv, working_dir, .. } --load--> Loaded { project, warnings, env }
//!     --resolve_env_files(texts)--> Project --start_order--> [service]; --config_yaml--> String
//! ```

pub mod dotenv;
pub mod error;
pub mod interpolate;
pub mod load;
pub mod model;
pub mod order;
pub mod plan;
pub mod render;
pub mod select;
pub mod watch;
pub mod yaml;

pub use error::{ComposeError, Problem, Warning};
pub use load::{load, LoadInput, Loaded, SourceFile};
pub use model::Project;
pub use order::start_order;
pub use render::config_yaml;
