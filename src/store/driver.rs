//! The store's storage driver, chosen once and recorded in
//! `<root>/storage.json` (written atomically under the store lock).

use serde::{Deserialize, Serialize};

use super::lock::Lock;
use super::{atomic, Result, Store, StoreError};
use crate::fs::driver::Driver;

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    driver: Driver,
}

impl Store {
    fn driver_record(&self) -> std::path::PathBuf {
        self.root.join("storage.json")
    }

    /// The driver recorded for this store, if one was chosen.
    pub fn storage_driver(&self) -> Result<Option<Driver>> {
        let path = self.driver_record();
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
            Ok(bytes) => serde_json::from_slice::<Record>(&bytes)
                .map(|r| Some(r.driver))
                .map_err(|e| StoreError::Corrupt {
                    path,
                    reason: e.to_string(),
                }),
        }
    }

    /// Records `driver` unless another process recorded one first; returns
    /// the driver in force.
    pub fn record_storage_driver(&self, driver: Driver) -> Result<Driver> {
        let _lock = Lock::exclusive(&self.lock_path())?;
        if let Some(existing) = self.storage_driver()? {
            return Ok(existing);
        }
        atomic::write_json(
            &self.driver_record(),
            &Record { driver },
            atomic::Durability::PowerLoss,
        )?;
        Ok(driver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_record_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.storage_driver().unwrap(), None);
        assert_eq!(
            store.record_storage_driver(Driver::FuseOverlayfs).unwrap(),
            Driver::FuseOverlayfs
        );
        assert_eq!(
            store.record_storage_driver(Driver::Vfs).unwrap(),
            Driver::FuseOverlayfs
        );
        assert_eq!(store.storage_driver().unwrap(), Some(Driver::FuseOverlayfs));
    }
}
