//! What every command gets: resolved paths and the printer.

use crate::cli::GlobalArgs;
use crate::paths::Paths;
use crate::store::Store;
use crate::ui::printer::{Printer, Verbosity};

pub struct Context {
    pub paths: Paths,
    pub printer: Printer,
    pub storage_driver: Option<crate::cli::StorageDriver>,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> Context {
        let verbosity = if global.debug {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        Context {
            paths: Paths::resolve(
                global.root.clone(),
                global.runroot.clone(),
                crate::sys::ids::current_euid(),
            ),
            printer: Printer::new(verbosity),
            storage_driver: global.storage_driver,
        }
    }

    /// The storage driver asked for with `--storage-driver` or
    /// `DEVBOX_STORAGE_DRIVER`, if any.
    pub fn requested_driver(&self) -> Option<crate::fs::driver::Driver> {
        use crate::cli::StorageDriver;
        use crate::fs::driver::Driver;
        self.storage_driver.map(|d| match d {
            StorageDriver::Overlay => Driver::Overlay,
            StorageDriver::FuseOverlayfs => Driver::FuseOverlayfs,
            StorageDriver::Vfs => Driver::Vfs,
        })
    }

    /// The user's id mapping; the single-id fallback's warning is printed here.
    pub fn id_mapping(&self) -> crate::runtime::Result<crate::runtime::idmap::IdMapping> {
        let (mapping, warning) = crate::runtime::userns::detect_mapping(&self.paths.host)?;
        if let Some(warning) = warning {
            self.printer.warn(warning);
        }
        Ok(mapping)
    }

    pub fn store(&self) -> Result<Store, crate::store::StoreError> {
        Ok(Store::open(&self.paths.root)?.with_run_root(self.paths.run_root.clone()))
    }
}
