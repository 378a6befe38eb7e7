//! Roll-outs on disk, so they survive a restart of the console: one `rollouts.json` per config
//! directory, written atomically after every change (crash-safe: the old file or the new one,
//! never half of each). A roll-out that was running when the console stopped comes back paused —
//! waves not yet started wait for the operator to resume. A damaged file is reported, kept aside
//! and not overwritten silently.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::app::model::rollout::{Rollout, RolloutStatus};
use crate::files::{FileError, Visibility, write_atomic};

const FILE_NAME: &str = "rollouts.json";

/// Why roll-outs could not be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum RolloutStoreError {
    /// Reading or writing the file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file is not what hubdeck writes; it was moved aside.
    #[error("{path} could not be read ({detail}); it was kept as {kept} and roll-outs start empty", path = path.display(), kept = kept.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Where it was moved.
        kept: PathBuf,
        /// The parse error.
        detail: String,
    },
    /// A roll-out could not be encoded (never expected: plain data).
    #[error("the roll-outs could not be encoded: {0}")]
    Encode(String),
}

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    rollouts: Vec<Rollout>,
}

/// The roll-outs of one config directory.
pub struct RolloutStore {
    path: PathBuf,
}

impl RolloutStore {
    /// The store in `config_dir`.
    pub fn new(config_dir: &Path) -> Self {
        Self { path: config_dir.join(FILE_NAME) }
    }

    /// Every saved roll-out, newest first; those that were running come back paused.
    pub fn load(&self) -> Result<Vec<Rollout>, RolloutStoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(FileError { action: "read", path: self.path.clone(), source }.into()),
        };
        let mut stored: Stored = match serde_json::from_str(&text) {
            Ok(stored) => stored,
            Err(error) => {
                let kept = self.path.with_extension("json.damaged");
                std::fs::rename(&self.path, &kept).map_err(|source| FileError { action: "move aside", path: self.path.clone(), source })?;
                return Err(RolloutStoreError::Damaged { path: self.path.clone(), kept, detail: error.to_string() });
            }
        };
        for rollout in &mut stored.rollouts {
            if matches!(rollout.status, RolloutStatus::Running | RolloutStatus::Soaking { .. }) {
                rollout.status = RolloutStatus::Paused;
            }
        }
        stored.rollouts.sort_by(|a, b| b.created_at.total_cmp(&a.created_at));
        Ok(stored.rollouts)
    }

    /// Saves every roll-out (the whole list: they are few and small).
    pub fn save(&self, rollouts: &[Rollout]) -> Result<(), RolloutStoreError> {
        let stored = Stored { rollouts: rollouts.to_vec() };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(|error| RolloutStoreError::Encode(error.to_string()))?;
        write_atomic(&self.path, &bytes, Visibility::Private)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::model::rollout::{ContinueWhen, RolloutOperation, RolloutSpec, WavePlan};

    fn rollout(id: &str, created_at: f64) -> Rollout {
        let spec = RolloutSpec {
            name: id.into(),
            operation: RolloutOperation::TwinUpdate { patch: json!({"properties": {"desired": {"floor": 3}}}) },
            plan: WavePlan::Fixed { size: 2 },
            soak_secs: 0,
            continue_when: ContinueWhen::Operator,
            abort: None,
            max_execution_secs: 60,
        };
        Rollout::new(id.into(), spec, vec!["a".into(), "b".into(), "c".into()], created_at).unwrap()
    }

    #[test]
    fn saved_roll_outs_come_back_newest_first_and_running_ones_paused() {
        let dir = tempfile::tempdir().unwrap();
        let store = RolloutStore::new(dir.path());
        assert!(store.load().unwrap().is_empty(), "no file: no roll-outs");
        let mut finished = rollout("old", 1.0);
        finished.abort("stopped by the operator".into());
        let running = rollout("new", 2.0);
        store.save(&[finished.clone(), running.clone()]).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.iter().map(|rollout| rollout.id.as_str()).collect::<Vec<_>>(), ["new", "old"]);
        assert_eq!(loaded[0].status, RolloutStatus::Paused, "a running roll-out waits for the operator after a restart");
        assert_eq!(loaded[1], finished);
    }

    #[test]
    fn a_damaged_file_is_kept_aside_and_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        let store = RolloutStore::new(dir.path());
        let error = store.load().unwrap_err();
        assert!(error.to_string().contains("rollouts.json.damaged"), "{error}");
        assert!(dir.path().join("rollouts.json.damaged").exists());
        assert!(store.load().unwrap().is_empty(), "starts empty afterwards");
    }
}
