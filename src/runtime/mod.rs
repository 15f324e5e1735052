//! Running containers.

use crate::ui::diagnostics::Hint;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("placeholder")]
    Placeholder,
}

impl Hint for RuntimeError {
    fn hint(&self) -> Option<String> {
        None
    }
}
