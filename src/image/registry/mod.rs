//! Talking to registries (the OCI distribution API) over ureq: pull, push,
//! login and search. `challenge` and `platform` are pure; `client` does the
//! HTTP; `pull`/`push` move blobs between a registry and the store and report
//! progress through [`TransferReporter`] (the command draws it).

pub mod challenge;
pub mod client;
pub mod platform;
pub mod pull;
pub mod push;
pub mod search;

pub use client::{Client, ClientOptions};
pub use platform::PlatformSpec;

use crate::image::credentials::CredentialsError;
use crate::image::digest::DigestError;
use crate::image::import::ImportError;
use crate::image::Digest;
use crate::store::StoreError;
use crate::ui::diagnostics::Hint;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry `{registry}` at {url}")]
    Unreachable {
        registry: String,
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("authentication to `{registry}` failed: {message}")]
    Unauthorized { registry: String, message: String },
    #[error("{what} not found in `{registry}`: {message}")]
    NotFound {
        registry: String,
        what: String,
        message: String,
    },
    #[error("registry `{registry}` answered {status} to {method} {url}: {message}")]
    Status {
        registry: String,
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    #[error("{what} from `{registry}` broke off after {received} bytes: {reason}")]
    Interrupted {
        registry: String,
        what: String,
        received: u64,
        reason: String,
    },
    #[error("invalid answer from `{registry}`: {reason}")]
    Protocol { registry: String, reason: String },
    #[error("{what} {digest} from `{registry}` failed verification: {source}")]
    Verify {
        registry: String,
        what: &'static str,
        digest: Digest,
        #[source]
        source: DigestError,
    },
    #[error("`{reference}` has no image for platform {platform} (it has: {available})")]
    NoPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("unsupported {what} media type `{media_type}`")]
    Unsupported {
        what: &'static str,
        media_type: String,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

impl Hint for RegistryError {
    fn hint(&self) -> Option<String> {
        match self {
            RegistryError::Unauthorized { registry, .. } => Some(format!(
                "log in with `devbox login {registry}`, or check the user name and password"
            )),
            RegistryError::Unreachable { registry, .. } => Some(format!(
                "check that `{registry}` is up; a registry without TLS needs `--tls-verify=false` (localhost and 127.0.0.1 are allowed plain http already)"
            )),
            RegistryError::Interrupted { .. } => Some(format!(
                "the registry or the network stalled or dropped the transfer ({} tries); run the command again: complete blobs are kept",
                client::TRIES
            )),
            RegistryError::NoPlatform { .. } => {
                Some("choose one of those with `--platform OS/ARCH[/VARIANT]`".into())
            }
            RegistryError::Verify { .. } => Some(
                "the registry served content that does not match its digest; nothing of it was kept".into(),
            ),
            _ => None,
        }
    }
}

impl RegistryError {
    /// Whether trying again may help: a dropped or refused connection, a
    /// stalled or truncated body, a 5xx or 429. Never an authentication
    /// failure, a missing image, or content that fails verification.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { source, .. } => client::is_transient(source),
            RegistryError::Interrupted { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, RegistryError>;

/// What a pull or push tells its user as blobs move (implemented by the
/// command, with bars or plain lines). Called from several threads.
pub trait TransferReporter: Sync {
    /// The blobs about to be transferred (for the total bar).
    fn begin(&self, blobs: &[crate::image::oci::Descriptor]);
    /// The blob is already there (in the store, or in the registry).
    fn exists(&self, digest: &Digest);
    /// `done` bytes of the blob have moved.
    fn progress(&self, digest: &Digest, done: u64);
    /// The blob moved completely and was verified.
    fn transferred(&self, digest: &Digest);
    /// A pulled layer is unpacked in the store.
    fn unpacked(&self, digest: &Digest);
    /// Every blob is done.
    fn end(&self);
}

/// Runs `work` on every item with a few threads; stops handing out items
/// after the first error (which `work` can watch through the flag) and
/// returns that error.
fn for_each_parallel<T: Sync>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T, &std::sync::atomic::AtomicBool) -> Result<()> + Sync,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: std::sync::Mutex<Option<RegistryError>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::SeqCst) {
                    let Some(item) = items.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        return;
                    };
                    if let Err(e) = work(item, &failed) {
                        failed.store(true, Ordering::SeqCst);
                        let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        // A worker that stopped because another failed does
                        // not hide the real cause.
                        if slot.is_none() || matches!(*slot, Some(RegistryError::Cancelled)) {
                            *slot = Some(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parallel_work_visits_every_item_once() {
        let items: Vec<usize> = (0..50).collect();
        let sum = AtomicUsize::new(0);
        for_each_parallel(&items, 3, |i, _| {
            sum.fetch_add(*i, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert_eq!(sum.into_inner(), (0..50).sum::<usize>());
    }

    #[test]
    fn the_first_real_error_wins_over_cancellations() {
        let items: Vec<usize> = (0..20).collect();
        let err = for_each_parallel(&items, 3, |i, failed| {
            if *i == 5 {
                return Err(RegistryError::Protocol {
                    registry: "r".into(),
                    reason: "boom".into(),
                });
            }
            while *i > 5 && !failed.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            if *i > 5 {
                return Err(RegistryError::Cancelled);
            }
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, RegistryError::Protocol { .. }), "{err}");
    }
}
