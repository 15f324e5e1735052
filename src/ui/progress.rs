//! Progress of pulls and pushes: a bar per blob and a total bar when stderr
//! is a terminal, Docker's plain lines (`<short digest>: Pull complete`)
//! otherwise, nothing with `-q`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::printer::{Printer, Verbosity};
use crate::image::oci::Descriptor;
use crate::image::registry::TransferReporter;
use crate::image::Digest;

/// Which way blobs move (the words differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Pull,
    Push,
}

impl Direction {
    fn waiting(self) -> &'static str {
        match self {
            Direction::Pull => "Pulling fs layer",
            Direction::Push => "Preparing",
        }
    }
    fn exists(self) -> &'static str {
        match self {
            Direction::Pull => "Already exists",
            Direction::Push => "Layer already exists",
        }
    }
    fn moving(self) -> &'static str {
        match self {
            Direction::Pull => "Downloading",
            Direction::Push => "Pushing",
        }
    }
    fn transferred(self) -> &'static str {
        match self {
            Direction::Pull => "Download complete",
            Direction::Push => "Pushed",
        }
    }
}

pub struct TransferProgress {
    direction: Direction,
    printer: Printer,
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    blobs: Mutex<HashMap<Digest, (ProgressBar, u64)>>,
    /// The blobs in manifest order, for the final lines.
    order: Mutex<Vec<Digest>>,
}

impl TransferProgress {
    /// Bars on a terminal (unless `DEVBOX_NO_PROGRESS` is set), lines
    /// otherwise; silent when the printer is quiet.
    pub fn new(printer: Printer, direction: Direction) -> TransferProgress {
        let bars = (printer.verbosity != Verbosity::Quiet
            && std::io::stderr().is_terminal()
            && std::env::var_os(crate::env_vars::DEVBOX_NO_PROGRESS).is_none())
        .then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            total: ProgressBar::new(0),
            blobs: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
        });
        TransferProgress {
            direction,
            printer,
            bars,
        }
    }

    fn line(&self, digest: &Digest, what: &str) {
        match &self.bars {
            Some(bars) => {
                let blobs = bars.blobs.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((bar, _)) = blobs.get(digest) {
                    bar.set_message(what.to_string());
                }
            }
            None => self.printer.status(format!("{}: {what}", digest.short())),
        }
    }

    fn finish_bar(&self, digest: &Digest, what: &str) {
        if let Some(bars) = &self.bars {
            let blobs = bars.blobs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((bar, size)) = blobs.get(digest) {
                bar.set_position(*size);
                bar.finish_with_message(what.to_string());
            }
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl TransferReporter for TransferProgress {
    fn begin(&self, blobs: &[Descriptor]) {
        let Some(bars) = &self.bars else {
            for blob in blobs {
                self.line(&blob.digest, self.direction.waiting());
            }
            return;
        };
        let mut map = bars.blobs.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0;
        for blob in blobs {
            if map.contains_key(&blob.digest) {
                continue;
            }
            total += blob.size;
            let bar = bars.multi.add(ProgressBar::new(blob.size));
            bar.set_style(style(
                "{prefix}: {msg:<18} [{bar:30}] {bytes:>10}/{total_bytes:<10}",
            ));
            bar.set_prefix(blob.digest.short().to_string());
            bar.set_message(self.direction.waiting());
            map.insert(blob.digest.clone(), (bar, blob.size));
            bars.order
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(blob.digest.clone());
        }
        let total_bar = bars.multi.add(bars.total.clone());
        total_bar.set_length(total);
        total_bar.set_style(style(
            "{msg:>12} [{bar:30}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec}",
        ));
        total_bar.set_message("total");
    }

    fn exists(&self, digest: &Digest) {
        self.finish_bar(digest, self.direction.exists());
        if let Some(bars) = &self.bars {
            let blobs = bars.blobs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, size)) = blobs.get(digest) {
                bars.total.inc(*size);
            }
        } else {
            self.line(digest, self.direction.exists());
        }
    }

    fn progress(&self, digest: &Digest, done: u64) {
        if let Some(bars) = &self.bars {
            let blobs = bars.blobs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((bar, _)) = blobs.get(digest) {
                let delta = done.saturating_sub(bar.position());
                bar.set_message(self.direction.moving());
                bar.set_position(done);
                bars.total.inc(delta);
            }
        }
    }

    fn transferred(&self, digest: &Digest) {
        match self.direction {
            Direction::Pull => self.line(digest, self.direction.transferred()),
            Direction::Push => {
                self.finish_bar(digest, self.direction.transferred());
                if self.bars.is_none() {
                    self.line(digest, self.direction.transferred());
                }
            }
        }
    }

    fn unpacked(&self, digest: &Digest) {
        self.finish_bar(digest, "Pull complete");
        if self.bars.is_none() {
            self.line(digest, "Pull complete");
        }
    }

    fn end(&self) {
        if let Some(bars) = &self.bars {
            // The bars make way for Docker's final lines.
            bars.total.finish();
            let _ = bars.multi.clear();
            let blobs = bars.blobs.lock().unwrap_or_else(|e| e.into_inner());
            for digest in bars.order.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if let Some((bar, _)) = blobs.get(digest) {
                    self.printer
                        .status(format!("{}: {}", digest.short(), bar.message()));
                }
            }
        }
    }
}
