//! The Python workflow: project detection (pure) and templates.
