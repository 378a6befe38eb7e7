//! Durable state: device records in a redb database. Every acknowledged write is committed
//! (fsync) before the HTTP answer goes out, so a `kill -9` loses nothing acknowledged.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

use super::error::SimError;
use super::record::DeviceRecord;

const DEVICES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("devices");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const JOBS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("jobs");

/// The page cache redb may use; the registry itself lives in memory.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A write to apply atomically.
#[derive(Debug, Default)]
pub struct Batch {
    /// Records to insert or replace, serialized.
    pub upserts: Vec<(String, Vec<u8>)>,
    /// Device ids to remove.
    pub deletes: Vec<String>,
    /// Metadata entries to set.
    pub meta: Vec<(String, Vec<u8>)>,
}

impl Batch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty() && self.meta.is_empty()
    }
}

/// Runs inside a device commit just before it is made durable; an error fails the commit.
#[cfg(test)]
pub(crate) type CommitHook = Box<dyn Fn() -> Result<(), SimError> + Send + Sync>;

/// The state database of one simulated hub.
pub struct Store {
    db: Database,
    path: PathBuf,
    /// Lets unit tests look inside a commit and make it fail.
    #[cfg(test)]
    commit_hook: parking_lot::Mutex<Option<CommitHook>>,
}

impl Store {
    /// Opens or creates the database file.
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(path).map_err(|error| SimError::Store {
            path: path.to_owned(),
            detail: match error {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    "it is in use by another hubdeck simulator (use another --state-dir)".to_owned()
                }
                other => other.to_string(),
            },
        })?;
        let store = Self {
            db,
            path: path.to_owned(),
            #[cfg(test)]
            commit_hook: parking_lot::Mutex::new(None),
        };
        // Create the tables up front so readers never meet a missing table.
        store.write(&Batch::default())?;
        Ok(store)
    }

    /// Installs `hook`, run in every device commit before it is made durable.
    #[cfg(test)]
    pub(crate) fn set_commit_hook(&self, hook: CommitHook) {
        *self.commit_hook.lock() = Some(hook);
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, error: impl std::fmt::Display) -> SimError {
        SimError::Store { path: self.path.clone(), detail: error.to_string() }
    }

    /// Every stored device.
    pub fn load_devices(&self) -> Result<Vec<DeviceRecord>, SimError> {
        let read = self.db.begin_read().map_err(|error| self.error(error))?;
        let table = read.open_table(DEVICES).map_err(|error| self.error(error))?;
        let mut records = Vec::new();
        for entry in table.iter().map_err(|error| self.error(error))? {
            let (key, value) = entry.map_err(|error| self.error(error))?;
            let record: DeviceRecord = serde_json::from_slice(value.value())
                .map_err(|error| SimError::Corrupt { path: self.path.clone(), detail: format!("device '{}': {error}", key.value()) })?;
            records.push(record);
        }
        Ok(records)
    }

    /// A metadata entry.
    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, SimError> {
        let read = self.db.begin_read().map_err(|error| self.error(error))?;
        let table = read.open_table(META).map_err(|error| self.error(error))?;
        Ok(table.get(key).map_err(|error| self.error(error))?.map(|value| value.value().to_vec()))
    }

    /// Every stored job record (serialized), by job id.
    pub fn load_jobs(&self) -> Result<Vec<(String, Vec<u8>)>, SimError> {
        let read = self.db.begin_read().map_err(|error| self.error(error))?;
        let table = read.open_table(JOBS).map_err(|error| self.error(error))?;
        let mut jobs = Vec::new();
        for entry in table.iter().map_err(|error| self.error(error))? {
            let (key, value) = entry.map_err(|error| self.error(error))?;
            jobs.push((key.value().to_owned(), value.value().to_vec()));
        }
        Ok(jobs)
    }

    /// Writes (`Some`) or removes (`None`) job records in one durable transaction.
    pub fn write_jobs(&self, jobs: &[(String, Option<Vec<u8>>)]) -> Result<(), SimError> {
        let write = self.db.begin_write().map_err(|error| self.error(error))?;
        {
            let mut table = write.open_table(JOBS).map_err(|error| self.error(error))?;
            for (job_id, bytes) in jobs {
                match bytes {
                    Some(bytes) => table.insert(job_id.as_str(), bytes.as_slice()).map(drop),
                    None => table.remove(job_id.as_str()).map(drop),
                }
                .map_err(|error| self.error(error))?;
            }
        }
        write.commit().map_err(|error| self.error(error))
    }

    /// Applies `batch` in one durable transaction.
    pub fn write(&self, batch: &Batch) -> Result<(), SimError> {
        let write = self.db.begin_write().map_err(|error| self.error(error))?;
        {
            let mut devices = write.open_table(DEVICES).map_err(|error| self.error(error))?;
            for (device_id, bytes) in &batch.upserts {
                devices.insert(device_id.as_str(), bytes.as_slice()).map_err(|error| self.error(error))?;
            }
            for device_id in &batch.deletes {
                devices.remove(device_id.as_str()).map_err(|error| self.error(error))?;
            }
            let mut meta = write.open_table(META).map_err(|error| self.error(error))?;
            for (key, bytes) in &batch.meta {
                meta.insert(key.as_str(), bytes.as_slice()).map_err(|error| self.error(error))?;
            }
            // Created here too, so a database from before jobs existed opens for reading.
            write.open_table(JOBS).map_err(|error| self.error(error))?;
        }
        #[cfg(test)]
        if let Some(hook) = &*self.commit_hook.lock() {
            hook()?;
        }
        write.commit().map_err(|error| self.error(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::wire::Device;
    use crate::sim::registry::Registry;

    #[test]
    fn writes_survive_reopening_and_deletes_stick() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.redb");
        let mut registry = Registry::default();
        for id in ["a", "b"] {
            registry.put_device(id, &Device::new_with_generated_keys(id), None, 1).unwrap();
        }
        {
            let store = Store::open(&path).unwrap();
            let upserts = ["a", "b"].iter().map(|id| ((*id).to_owned(), serde_json::to_vec(registry.get(id).unwrap()).unwrap())).collect();
            store.write(&Batch { upserts, meta: vec![("seeded".into(), b"1".to_vec())], ..Batch::default() }).unwrap();
            store.write(&Batch { deletes: vec!["a".into()], ..Batch::default() }).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let records = store.load_devices().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(&records[0], registry.get("b").unwrap());
        assert_eq!(store.get_meta("seeded").unwrap().as_deref(), Some(b"1".as_slice()));
    }

    #[test]
    fn a_second_opener_gets_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.redb");
        let _first = Store::open(&path).unwrap();
        let error = Store::open(&path).err().unwrap();
        assert!(error.to_string().contains("in use by another hubdeck simulator"), "{error}");
    }
}
