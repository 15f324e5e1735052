//! `devbox compose`: the compose model and loader (pure), ordering and reconciliation.
