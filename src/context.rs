//! The resolved settings every command gets.
