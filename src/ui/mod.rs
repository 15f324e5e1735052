//! Everything the user sees: the printer, and the mapping from errors to
//! messages and exit codes. Only commands use this module.

pub mod diagnostics;
pub mod format;
pub mod printer;
pub mod progress;
pub mod units;

pub use diagnostics::ExitStatus;
pub use printer::Printer;
