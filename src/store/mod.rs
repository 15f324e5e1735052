//! store

use crate::ui::diagnostics::Hint;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("placeholder")]
    Placeholder,
}

impl Hint for StoreError {
    fn hint(&self) -> Option<String> {
        None
    }
}
