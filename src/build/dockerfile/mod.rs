//! The Dockerfile parser: text in, typed instructions with line numbers out (pure).
