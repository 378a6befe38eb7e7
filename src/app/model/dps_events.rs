//! The reducer's DPS part: enrollment lists, saves and conflicts, bulk results, registration
//! records and re-registrations, and the jumps between a registration and its device.

use std::sync::Arc;

use super::clock::Now;
use super::command::{Command, DpsCommand, ProfileCommand, RequestId};
use super::enrollment_editor::EnrollmentEditor;
use super::enrollments::{AnyEnrollment, EnrollmentKind};
use super::error::AppError;
use super::event::{DpsEvent, EnrollmentSaveOutcome};
use super::state::{AppState, NoticeLevel, Page};

impl AppState {
    /// Loads the enrollment lists (the page asks on first show and on Refresh).
    pub fn load_enrollments(&mut self, out: &mut Vec<Command>) {
        if !self.dps_configured {
            self.enrollments.lists.fail(AppError::local(
                "This profile has no DPS connection string. Add one in Profiles to see enrollments (the built-in simulator has one).",
            ));
            return;
        }
        let request = RequestId::fresh();
        self.enrollments.lists.start(request);
        out.push(DpsCommand::LoadEnrollments { request }.into());
    }

    /// Opens the editor on one enrollment. Unsaved edits of another one are kept until saved or
    /// discarded: the user is told instead of losing them.
    pub fn open_enrollment(&mut self, kind: EnrollmentKind, id: &str, out: &mut Vec<Command>) {
        self.page = Page::Enrollments;
        self.enrollments.tab = kind;
        if let Some(editor) = &self.enrollments.editor
            && editor.is_dirty()
            && !(editor.base.kind() == kind && editor.base.id().eq_ignore_ascii_case(id))
        {
            let open = editor.base.id().to_owned();
            self.notify(NoticeLevel::Info, format!("{open} has unsaved changes: save or discard them first."));
            return;
        }
        if let Some(item) = self.enrollments.find(kind, id) {
            self.enrollments.editor = Some(EnrollmentEditor::open(item, out));
        }
    }

    /// Looks up the enrollment `device_id` registered through, to open it in the editor.
    pub fn find_enrollment(&mut self, device_id: Arc<str>, out: &mut Vec<Command>) {
        let request = RequestId::fresh();
        self.enrollments.lookup = Some(request);
        out.push(DpsCommand::FindEnrollment { request, device_id }.into());
    }

    /// The hub name DPS's `assignedHub` host stands for.
    pub fn hub_for_host(&self, host: &str) -> Option<&str> {
        self.hubs.iter().find(|hub| hub.host.eq_ignore_ascii_case(host)).map(|hub| hub.name.as_str())
    }

    /// Shows a device's twin on the hub DPS assigned it to (switching hubs first if needed).
    pub fn open_device_on_hub(&mut self, host: &str, device_id: Arc<str>, out: &mut Vec<Command>) {
        let Some(hub) = self.hub_for_host(host).map(str::to_owned) else {
            self.notify(NoticeLevel::Error, format!("{host} is not one of this profile's hubs, so {device_id} cannot be opened here."));
            return;
        };
        if hub == self.hub {
            self.open_twin(device_id, out);
        } else {
            self.pending_twin = Some((hub.clone(), device_id));
            out.push(ProfileCommand::SwitchHub(hub).into());
        }
    }

    pub(super) fn apply_dps_event(&mut self, event: DpsEvent, now: Now, out: &mut Vec<Command>) {
        let now = now.instant;
        if let DpsEvent::Deleted { request, .. } | DpsEvent::BulkPolicyDone { request, .. } = &event
            && !self.enrollments.actions.finish(*request)
        {
            return; // an action under the previous profile: the Enrollments page was reset since
        }
        match event {
            DpsEvent::EnrollmentsLoaded { request, result } => {
                if !self.enrollments.lists.finish(request, result) {
                    return; // an answer for another profile, or a superseded load
                }
                // An open editor's records follow the list (an individual's record is embedded).
                let open = self.enrollments.editor.as_ref().map(|editor| (editor.base.kind(), editor.base.id().to_owned()));
                if let Some((EnrollmentKind::Individual, id)) = open
                    && let Some(AnyEnrollment::Individual(fresh)) = self.enrollments.find(EnrollmentKind::Individual, &id)
                    && let Some(editor) = &mut self.enrollments.editor
                {
                    editor.records_arrived(fresh.registration_state.into_iter().collect(), now);
                }
            }
            DpsEvent::Saved { request, id, outcome } => {
                if self.enrollments.open_when_saved.take_if(|created| *created == request).is_some() {
                    self.enrollment_created(&id, outcome, out);
                } else if self.enrollments.editor.as_ref().is_some_and(|editor| editor.saving == Some(request)) {
                    self.enrollment_saved(&id, outcome);
                }
                // Else the answer is stale: its editor was closed, or it belongs to the previous profile.
            }
            DpsEvent::Deleted { request: _, id, result } => match result {
                Ok(()) => {
                    if let Some(lists) = self.enrollments.lists.value_mut() {
                        lists.individuals.retain(|item| !item.registration_id.eq_ignore_ascii_case(&id));
                        lists.groups.retain(|item| !item.enrollment_group_id.eq_ignore_ascii_case(&id));
                    }
                    self.enrollments.picked.retain(|(_, picked)| !picked.eq_ignore_ascii_case(&id));
                    if self.enrollments.editor.as_ref().is_some_and(|editor| editor.base.id().eq_ignore_ascii_case(&id)) {
                        self.enrollments.editor = None;
                    }
                    self.notify(
                        NoticeLevel::Success,
                        format!("Deleted {id}. Its devices stay on their hubs; their registration records stay in DPS."),
                    );
                }
                Err(error) => {
                    if let Some(editor) = self.enrollments.editor.as_mut().filter(|editor| editor.base.id().eq_ignore_ascii_case(&id)) {
                        editor.confirm_delete = None;
                        editor.message = Some((true, format!("Not deleted: {error}")));
                    }
                    self.notify(NoticeLevel::Error, format!("{id} was not deleted: {error}"));
                }
            },
            DpsEvent::BulkPolicyDone { request: _, result } => {
                match result {
                    Ok(results) => {
                        let failed = results.iter().filter(|(_, result)| result.is_err()).count();
                        let level = if failed == 0 { NoticeLevel::Success } else { NoticeLevel::Error };
                        self.notify(level, format!("Policy set on {} of {} enrollments", results.len() - failed, results.len()));
                        if let Some(bulk) = &mut self.enrollments.bulk {
                            bulk.running = false;
                            bulk.results = Some(results);
                        }
                    }
                    Err(error) => {
                        if let Some(bulk) = &mut self.enrollments.bulk {
                            bulk.running = false;
                            bulk.results = Some(bulk.ids.iter().map(|id| (id.clone(), Err(error.clone()))).collect());
                        }
                        self.notify(NoticeLevel::Error, format!("The bulk change failed: {error}"));
                    }
                }
                self.load_enrollments(out);
            }
            DpsEvent::Records { request, id, result } => {
                if let Some(editor) = self.enrollments.editor.as_mut().filter(|editor| editor.base.id().eq_ignore_ascii_case(&id)) {
                    editor.records_loaded(request, result, now);
                }
            }
            DpsEvent::Keys { request, id, result } => {
                if let Some(editor) = self.enrollments.editor.as_mut().filter(|editor| editor.base.id().eq_ignore_ascii_case(&id)) {
                    editor.keys.finish(request, result);
                }
            }
            DpsEvent::ReRegisterSent { request, registration_id, result } => {
                if let Some(editor) = &mut self.enrollments.editor {
                    editor.reregister_sent(request, &registration_id, result, now);
                }
            }
            DpsEvent::EnrollmentFound { request, device_id, result } => {
                // Only the lookup asked last counts: another may have been asked since, or under
                // the previous profile, whose enrollment must not open in this one's editor.
                if self.enrollments.lookup.take_if(|pending| *pending == request).is_some() {
                    self.enrollment_found(&device_id, result, out);
                }
            }
        }
    }

    fn enrollment_created(&mut self, id: &str, outcome: EnrollmentSaveOutcome, out: &mut Vec<Command>) {
        match outcome {
            EnrollmentSaveOutcome::Saved(item) => {
                let kind = item.kind();
                self.enrollments.upsert(*item);
                self.enrollments.new_draft = None;
                self.notify(NoticeLevel::Success, format!("Created {id}"));
                self.open_enrollment(kind, id, out);
            }
            // A create has no etag to conflict with; a 412 would mean the id was taken meanwhile.
            EnrollmentSaveOutcome::Conflict(theirs) => {
                self.enrollments.upsert(*theirs);
                self.create_failed(id, &format!("{id} was created by someone else meanwhile; open it from the list"));
            }
            EnrollmentSaveOutcome::Failed(error) => self.create_failed(id, &error.message),
        }
    }

    fn create_failed(&mut self, id: &str, why: &str) {
        if let Some(draft) = &mut self.enrollments.new_draft {
            draft.creating = false;
        }
        self.notify(NoticeLevel::Error, format!("{id} was not created: {why}"));
    }

    /// The answer to the open editor's save (the caller checked it is that save's).
    fn enrollment_saved(&mut self, id: &str, outcome: EnrollmentSaveOutcome) {
        match outcome {
            EnrollmentSaveOutcome::Saved(item) => {
                self.enrollments.upsert((*item).clone());
                if let Some(editor) = &mut self.enrollments.editor {
                    editor.saved(*item);
                }
                self.notify(NoticeLevel::Success, format!("Saved {id}"));
            }
            EnrollmentSaveOutcome::Conflict(theirs) => {
                self.enrollments.upsert((*theirs).clone());
                if let Some(editor) = &mut self.enrollments.editor {
                    editor.start_conflict(*theirs);
                }
            }
            EnrollmentSaveOutcome::Failed(error) => {
                if let Some(editor) = &mut self.enrollments.editor {
                    editor.save_failed(&error.message);
                }
                self.notify(NoticeLevel::Error, format!("{id} was not saved: {error}"));
            }
        }
    }

    fn enrollment_found(&mut self, device_id: &str, result: Result<Option<Box<AnyEnrollment>>, AppError>, out: &mut Vec<Command>) {
        match result {
            Ok(Some(item)) => {
                let (kind, id) = (item.kind(), item.id().to_owned());
                if self.enrollments.lists.is_idle() {
                    self.load_enrollments(out);
                }
                self.enrollments.upsert(*item);
                self.open_enrollment(kind, &id, out);
            }
            Ok(None) => self.notify(NoticeLevel::Info, format!("{device_id} did not register through any enrollment of this DPS")),
            Err(error) => self.notify(NoticeLevel::Error, format!("Cannot look up the enrollment of {device_id}: {error}")),
        }
    }
}
