//! The twin editor's state for one device: the draft and the live twin, the mode (tree or
//! JSON), review, save, conflict and "changed elsewhere" handling, and when to poll. Pure: the
//! reducer feeds it events and it returns commands.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::draft::{ChangeLine, JsonTextError, TwinDraft};
use super::merge3::{Conflict, choose, rebase};
use super::patch::{changes, diff, get};
use crate::app::model::command::{Command, RequestId, TwinCommand};
use crate::app::model::error::AppError;
use crate::app::model::loadable::Loadable;
use crate::azure::twin_rules::Section;
use crate::azure::wire::Twin;

/// Reported properties are polled this often while the editor is visible.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// After a save, poll faster for a while so the device's acknowledgement shows promptly.
pub const FAST_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long the faster polling lasts after a save.
pub const FAST_POLL_WINDOW: Duration = Duration::from_secs(20);

/// Tree or text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EditorMode {
    /// The visual tree.
    #[default]
    Tree,
    /// The JSON text editor.
    Json,
}

/// What to do once the user confirms throwing the draft away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscardThen {
    /// Go back to the service's twin.
    Reset,
    /// Open another device's twin.
    Open(Arc<str>),
    /// Close the editor.
    Close,
}

/// One key the user changed, as the conflict view shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictKey {
    /// Tags or desired properties.
    pub section: Section,
    /// Base, theirs and mine.
    pub conflict: Conflict,
    /// Both sides changed it differently, so the user must choose.
    pub contested: bool,
    /// The choice: `Some(true)` mine, `Some(false)` theirs, `None` not decided yet.
    pub take_mine: Option<bool>,
}

/// After a 412: the twin as it is now, and the user's changed keys against it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictState {
    /// The current twin (its etag is what the next save uses).
    pub theirs: Twin,
    /// Every key the draft changes.
    pub keys: Vec<ConflictKey>,
    /// Keys someone else changed that the draft does not touch (kept as theirs).
    pub their_other_changes: Vec<ChangeLine>,
}

impl ConflictState {
    /// True when every contested key has a choice.
    pub fn decided(&self) -> bool {
        self.keys.iter().all(|key| key.take_mine.is_some())
    }
}

/// The add-key form under one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyForm {
    /// Tags or desired properties (`None` until the form is opened on one).
    pub section: Option<Section>,
    /// The object the key goes into (for rename: the key being renamed).
    pub path: Vec<String>,
    /// The name typed.
    pub name: String,
}

/// The editor for one device's twin.
#[derive(Clone, Debug)]
pub struct TwinEditor {
    /// The device.
    pub device_id: Arc<str>,
    /// The draft, once the first load arrived.
    pub draft: Option<TwinDraft>,
    /// The twin as last fetched (reported values and sync badges come from here), and the
    /// first load or a poll in flight.
    pub live: Loadable<Twin>,
    /// Tree or JSON.
    pub mode: EditorMode,
    /// JSON mode's text (kept even while it does not parse).
    pub json_text: String,
    /// Why `json_text` is not the draft right now.
    pub json_error: Option<JsonTextError>,
    /// Text typed into tree value fields that does not parse for their type yet.
    pub invalid_text: BTreeMap<(Section, Vec<String>), String>,
    /// Show only keys containing this (case-insensitive).
    pub filter: String,
    /// The review is open.
    pub review: bool,
    /// The save on its way (its request id); an answer to any other save is dropped.
    pub saving: Option<RequestId>,
    /// Why the last save failed (not a conflict).
    pub save_error: Option<String>,
    /// The conflict view, after a 412.
    pub conflict: Option<ConflictState>,
    /// The service's twin changed while the editor was open.
    pub elsewhere: Option<String>,
    /// Awaiting "discard your changes?".
    pub confirm_discard: Option<DiscardThen>,
    /// The add-key form.
    pub adding: Option<KeyForm>,
    /// The rename form.
    pub renaming: Option<KeyForm>,
    /// When the last refresh was asked for.
    pub last_poll: Option<Instant>,
    /// Poll faster until then (a save is waiting for the device).
    pub fast_poll_until: Option<Instant>,
    /// Editing a patch for many devices (a twin-update job), not one device's twin: no
    /// reported properties, no sync badges, no polling.
    pub patch_mode: bool,
}

impl TwinEditor {
    /// A new editor, loading `device_id`'s twin.
    pub fn open(device_id: Arc<str>, out: &mut Vec<Command>) -> Self {
        let request = RequestId::fresh();
        out.push(TwinCommand::Load { request, device_id: Arc::clone(&device_id), refresh: false }.into());
        Self {
            device_id,
            draft: None,
            live: Loadable::Loading { request, previous: None },
            mode: EditorMode::Tree,
            json_text: String::new(),
            json_error: None,
            invalid_text: BTreeMap::new(),
            filter: String::new(),
            review: false,
            saving: None,
            save_error: None,
            conflict: None,
            elsewhere: None,
            confirm_discard: None,
            adding: None,
            renaming: None,
            last_poll: None,
            fast_poll_until: None,
            patch_mode: false,
        }
    }

    /// An editor for a job's twin patch, starting from `tags` and `desired`.
    pub fn for_patch(tags: serde_json::Map<String, serde_json::Value>, desired: serde_json::Map<String, serde_json::Value>) -> Self {
        let mut editor = Self::open(Arc::from("job patch"), &mut Vec::new());
        let mut draft = TwinDraft::new(Twin::default());
        draft.tags = tags;
        draft.desired = desired;
        editor.draft = Some(draft);
        // A job patch has no twin behind it: nothing is loaded.
        editor.live = Loadable::Idle;
        editor.patch_mode = true;
        editor
    }

    /// The patch a job sends: the edited sections as they are (a `null` deletes the key on each
    /// device), plus the `"etag": "*"` the service requires. `None` when nothing is set.
    pub fn job_patch(&self) -> Option<serde_json::Value> {
        let draft = self.draft.as_ref()?;
        let mut body = serde_json::Map::new();
        if !draft.tags.is_empty() {
            body.insert("tags".to_owned(), serde_json::Value::Object(draft.tags.clone()));
        }
        if !draft.desired.is_empty() {
            body.insert("properties".to_owned(), serde_json::json!({ "desired": draft.desired }));
        }
        if body.is_empty() {
            return None;
        }
        body.insert("etag".to_owned(), serde_json::Value::String("*".to_owned()));
        Some(serde_json::Value::Object(body))
    }

    /// The draft exists (the first load arrived, or this edits a job patch).
    pub fn is_ready(&self) -> bool {
        self.draft.is_some()
    }

    /// Why the first load failed (a failed poll keeps the draft and is not reported here).
    pub fn first_load_error(&self) -> Option<&AppError> {
        if self.draft.is_some() { None } else { self.live.error() }
    }

    /// A save is on its way.
    pub fn is_saving(&self) -> bool {
        self.saving.is_some()
    }

    /// Unsaved work: draft changes, text that does not parse yet.
    pub fn has_unsaved_work(&self) -> bool {
        self.draft.as_ref().is_some_and(TwinDraft::is_dirty) || self.json_error.is_some() || !self.invalid_text.is_empty()
    }

    /// Why the draft cannot be saved now, or `None` when it can.
    pub fn save_blocker(&self) -> Option<String> {
        let draft = self.draft.as_ref()?;
        if self.is_saving() {
            return Some("saving…".to_owned());
        }
        if let Some(error) = &self.json_error {
            return Some(format!("the JSON does not parse: {}", error.message));
        }
        if let Some(((section, path), text)) = self.invalid_text.iter().next() {
            return Some(format!("{}.{} holds \"{text}\", which is not a valid value for its type", section.path(), path.join(".")));
        }
        if let Some(violation) = draft.violations().first() {
            return Some(violation.to_string());
        }
        if self.conflict.is_some() {
            return Some("resolve the conflict first".to_owned());
        }
        if !draft.is_dirty() {
            return Some("nothing has changed".to_owned());
        }
        None
    }

    /// Sends the draft's patch with its base etag.
    pub fn save(&mut self, out: &mut Vec<Command>) {
        if self.save_blocker().is_some() {
            return;
        }
        let Some(draft) = &self.draft else {
            return;
        };
        let request = RequestId::fresh();
        let etag = draft.etag().map(str::to_owned);
        out.push(TwinCommand::Save { request, device_id: Arc::clone(&self.device_id), etag, patch: draft.patch() }.into());
        self.saving = Some(request);
        self.save_error = None;
    }

    /// Switches between tree and JSON. Leaving JSON needs text that parses; the error says so.
    pub fn set_mode(&mut self, mode: EditorMode) {
        match mode {
            EditorMode::Json if self.mode == EditorMode::Tree => {
                if let Some(draft) = &self.draft {
                    self.json_text = draft.to_json_text();
                }
                self.json_error = None;
                self.mode = EditorMode::Json;
            }
            EditorMode::Tree if self.mode == EditorMode::Json && self.json_error.is_none() => self.mode = EditorMode::Tree,
            _ => {}
        }
    }

    /// JSON-mode text changed: it becomes the draft as soon as it parses.
    pub fn json_edited(&mut self) {
        let Some(draft) = &mut self.draft else {
            return;
        };
        match draft.set_from_json_text(&self.json_text) {
            Ok(()) => self.json_error = None,
            Err(error) => self.json_error = Some(error),
        }
    }

    fn replace_draft(&mut self, draft: TwinDraft) {
        if self.mode == EditorMode::Json {
            self.json_text = draft.to_json_text();
            self.json_error = None;
        }
        self.invalid_text.clear();
        self.draft = Some(draft);
    }

    /// The answer to the twin load `request` (first load or a poll); answers to any other
    /// load are dropped.
    pub fn loaded(&mut self, request: RequestId, result: Result<Twin, AppError>, refresh: bool) {
        if !self.live.awaits(request) {
            return;
        }
        let twin = match result {
            Ok(twin) => twin,
            Err(error) => {
                self.live.finish(request, Err(error));
                return;
            }
        };
        if self.draft.is_none() || !refresh {
            if self.draft.is_none() || !self.has_unsaved_work() {
                self.replace_draft(TwinDraft::new(twin.clone()));
            }
            self.live.finish(request, Ok(twin));
            return;
        }
        let changed_elsewhere = self.draft.as_ref().is_some_and(|draft| {
            let clean = TwinDraft::new(twin.clone());
            draft.base.etag != twin.etag
                && (draft.base_section(Section::Tags) != clean.tags || draft.base_section(Section::Desired) != clean.desired)
        });
        if changed_elsewhere {
            let version = twin.desired_version().map_or_else(String::new, |version| format!(" (desired $version {version})"));
            if self.has_unsaved_work() || self.is_saving() {
                self.elsewhere = Some(format!(
                    "Someone else changed this twin{version}. Your draft is still based on the version you opened; reconcile now, or saving will ask you to."
                ));
            } else {
                self.elsewhere = Some(format!("Someone else changed this twin{version}; the editor now shows their values."));
                self.replace_draft(TwinDraft::new(twin.clone()));
            }
        } else if let Some(draft) = &mut self.draft
            && self.saving.is_none()
        {
            // Same values: follow the newer etag and metadata, so a save is not refused for nothing.
            draft.base = twin.clone();
        }
        self.live.finish(request, Ok(twin));
    }

    /// The save went through: the saved twin is the new base.
    pub fn saved(&mut self, twin: Twin, now: Instant) {
        self.saving = None;
        self.review = false;
        self.conflict = None;
        self.elsewhere = None;
        self.save_error = None;
        self.replace_draft(TwinDraft::new(twin.clone()));
        // A poll in flight read the twin before this save: its answer is stale now.
        self.live = Loadable::Loaded(twin);
        self.fast_poll_until = Some(now + FAST_POLL_WINDOW);
        self.last_poll = Some(now);
    }

    /// The save failed for another reason; the draft stays.
    pub fn save_failed(&mut self, message: String) {
        self.saving = None;
        self.save_error = Some(message);
    }

    /// Someone else saved first (412, or "reconcile now"): compare against their twin.
    pub fn start_conflict(&mut self, theirs: Twin) {
        self.saving = None;
        self.review = false;
        self.elsewhere = None;
        let Some(draft) = &self.draft else {
            return;
        };
        let current = TwinDraft::new(theirs.clone());
        let mut keys = Vec::new();
        let mut their_other_changes = Vec::new();
        for section in [Section::Tags, Section::Desired] {
            let base = draft.base_section(section);
            let mine = draft.section(section).cloned().unwrap_or_default();
            let theirs_section = current.section(section).cloned().unwrap_or_default();
            let my_changes = changes(&base, &diff(&base, &mine));
            for (path, wanted) in &my_changes {
                let before = get(&base, path).cloned();
                let now = get(&theirs_section, path).cloned();
                let contested = now != before && now != *wanted;
                keys.push(ConflictKey {
                    section,
                    conflict: Conflict { path: path.clone(), base: before, theirs: now, mine: wanted.clone() },
                    contested,
                    take_mine: if contested { None } else { Some(true) },
                });
            }
            for (path, after) in changes(&base, &diff(&base, &theirs_section)) {
                let overlaps = my_changes.iter().any(|(mine, _)| mine.starts_with(&path) || path.starts_with(mine));
                if !overlaps {
                    their_other_changes.push(ChangeLine { section, before: get(&base, &path).cloned(), path, after });
                }
            }
        }
        self.conflict = Some(ConflictState { theirs, keys, their_other_changes });
    }

    /// Applies the choices: the draft becomes theirs plus the chosen values, based on their etag.
    pub fn resolve_conflict(&mut self) {
        let Some(conflict) = self.conflict.take_if(|conflict| conflict.decided()) else {
            return;
        };
        let Some(draft) = &self.draft else {
            return;
        };
        let mut resolved = TwinDraft::new(conflict.theirs.clone());
        for section in [Section::Tags, Section::Desired] {
            let base = draft.base_section(section);
            let mine = draft.section(section).cloned().unwrap_or_default();
            let theirs = resolved.section(section).cloned().unwrap_or_default();
            let mut merged = rebase(&base, &theirs, &mine);
            for key in conflict.keys.iter().filter(|key| key.section == section && key.contested) {
                choose(&mut merged.draft, &key.conflict, key.take_mine == Some(true));
            }
            set_section(&mut resolved, section, merged.draft);
        }
        self.replace_draft(resolved);
        self.review = true;
    }

    /// Throws the draft away (after confirmation) and returns to the service's twin.
    pub fn reset(&mut self) {
        if let Some(live) = self.live.value().cloned() {
            self.replace_draft(TwinDraft::new(live));
        }
        self.conflict = None;
        self.review = false;
        self.elsewhere = None;
        self.save_error = None;
    }

    /// How long until the next poll is due (zero: now).
    pub fn poll_due_in(&self, now: Instant) -> Duration {
        let interval = if self.fast_poll_until.is_some_and(|until| now < until) { FAST_POLL_INTERVAL } else { POLL_INTERVAL };
        self.last_poll.map_or(Duration::ZERO, |last| (last + interval).saturating_duration_since(now))
    }

    /// Asks for the twin again (the view decides whether polling is allowed right now).
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Command>) {
        if self.live.is_loading() || self.is_saving() || !self.is_ready() {
            return;
        }
        let request = RequestId::fresh();
        self.live.start(request);
        self.last_poll = Some(now);
        out.push(TwinCommand::Load { request, device_id: Arc::clone(&self.device_id), refresh: true }.into());
    }
}

fn set_section(draft: &mut TwinDraft, section: Section, values: Map<String, Value>) {
    match section {
        Section::Tags => draft.tags = values,
        Section::Desired => draft.desired = values,
        Section::Reported => {}
    }
}
