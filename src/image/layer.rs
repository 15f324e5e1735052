//! Unpacking layer tars into the store.
