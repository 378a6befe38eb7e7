//! The reducer's twin part: a loaded (or polled) twin and the end of a save.

use std::sync::Arc;

use super::clock::Now;
use super::command::RequestId;
use super::event::{TwinEvent, TwinSaveOutcome};
use super::state::{AppState, NoticeLevel};

impl AppState {
    pub(super) fn apply_twin_event(&mut self, event: TwinEvent, now: Now) {
        match event {
            TwinEvent::Loaded { request, device_id, refresh, result } => {
                if let Some(editor) = self.twin.as_mut().filter(|editor| editor.device_id == device_id) {
                    editor.loaded(request, result.map(|twin| *twin), refresh);
                }
            }
            TwinEvent::Saved { request, device_id, outcome } => self.twin_saved(request, &device_id, outcome, now),
        }
    }

    fn twin_saved(&mut self, request: RequestId, device_id: &Arc<str>, outcome: TwinSaveOutcome, now: Now) {
        // Only the editor's own save counts: the same device id on another hub is another twin.
        let Some(editor) = self.twin.as_mut().filter(|editor| editor.device_id == *device_id && editor.saving == Some(request)) else {
            return;
        };
        match outcome {
            TwinSaveOutcome::Saved(twin) => {
                let version = twin.desired_version().map_or_else(String::new, |version| format!(" (desired $version {version})"));
                editor.saved(*twin, now.instant);
                self.notify(NoticeLevel::Success, format!("Saved the twin of {device_id}{version}"));
            }
            TwinSaveOutcome::Conflict(twin) => {
                editor.start_conflict(*twin);
                self.notify(NoticeLevel::Info, format!("The twin of {device_id} changed since you opened it; choose what to keep"));
            }
            TwinSaveOutcome::Failed(error) => editor.save_failed(error.with_code()),
        }
    }
}
