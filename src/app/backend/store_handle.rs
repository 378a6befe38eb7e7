//! The profile store as the async backend uses it: every call (files, keyring) runs on tokio's
//! blocking pool, so no worker thread of the runtime ever waits on the disk or on D-Bus.

use std::sync::Arc;

use parking_lot::Mutex;

use super::profile_store::ProfileStore;
use crate::app::model::AppError;

/// Shared access to the [`ProfileStore`], one blocking call at a time.
#[derive(Clone)]
pub struct StoreHandle {
    store: Arc<Mutex<ProfileStore>>,
}

impl StoreHandle {
    /// Wraps an opened store.
    pub fn new(store: ProfileStore) -> Self {
        Self { store: Arc::new(Mutex::new(store)) }
    }

    /// Runs `call` on the blocking pool with the store locked.
    pub async fn run<R, F>(&self, call: F) -> Result<R, AppError>
    where
        F: FnOnce(&mut ProfileStore) -> R + Send + 'static,
        R: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(&mut store.lock()))
            .await
            .map_err(|error| AppError::local(format!("the profile store stopped: {error}")))
    }

    /// [`StoreHandle::run`] for a call that can fail: its error and a stopped store both come
    /// back as one [`AppError`] with the store's message.
    pub async fn try_run<T, E, F>(&self, call: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut ProfileStore) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.run(call).await?.map_err(|error| AppError::local(error.to_string()))
    }
}
