//! The only module with `unsafe` code and raw syscalls.
