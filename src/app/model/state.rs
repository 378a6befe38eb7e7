//! The console's whole state and its reducer: events in, state changes and follow-up commands
//! out. No egui here, so all of it is unit-tested without a UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::activity::ActivityLog;
use super::command::{Command, DeleteTarget, RequestId};
use super::devices::DevicesState;
use super::event::{Event, KeyringStatus, TwinSaveOutcome};
use super::job_draft::TargetPreview;
use super::jobs::{JobDetail, JobsState, ProgressSample};
use super::method_call::{MethodInvocation, MethodPanel};
use super::profile::{ProfileDraft, ProfileId, ProfileSummary};
use super::twin::{DiscardThen, TwinEditor};
use crate::azure::events::{CallOutcome, ClientEvent, RetryNotice};
use crate::azure::secret::Secret;

/// The pages of the left navigation (Ctrl+1..5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Page {
    /// The device list.
    #[default]
    Devices,
    /// Scheduled jobs (next issues).
    Jobs,
    /// DPS enrollments (next issues).
    Enrollments,
    /// The API call log.
    Activity,
    /// The twin editor for one device.
    Twin,
}

impl Page {
    /// All pages in navigation order.
    pub const ALL: [Self; 5] = [Self::Devices, Self::Jobs, Self::Enrollments, Self::Activity, Self::Twin];

    /// Navigation label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Devices => "Devices",
            Self::Jobs => "Jobs",
            Self::Enrollments => "Enrollments",
            Self::Activity => "Activity",
            Self::Twin => "Twin editor",
        }
    }
}

/// The connection to the active profile's hub.
#[derive(Clone, Debug, Default)]
pub enum ConnectionStatus {
    /// Before the backend reported anything.
    #[default]
    Starting,
    /// Connecting (or starting the simulator).
    Connecting(ProfileId),
    /// Ready.
    Connected {
        /// Profile.
        profile: ProfileId,
        /// Host.
        host: String,
        /// Requests in flight.
        in_flight: Arc<AtomicUsize>,
    },
    /// The profile could not be used.
    Failed {
        /// Profile.
        profile: ProfileId,
        /// Why.
        message: String,
    },
}

/// How a notice looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLevel {
    /// Neutral.
    Info,
    /// Something worked.
    Success,
    /// Something failed.
    Error,
}

/// A message to show once as a toast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Look.
    pub level: NoticeLevel,
    /// Text.
    pub text: String,
}

/// The status bar's dynamic parts.
#[derive(Clone, Debug, Default)]
pub struct StatusState {
    /// The latest failure and its activity entry.
    pub last_error: Option<(u64, String)>,
    /// A retry wait in progress.
    pub retry: Option<RetryNotice>,
}

/// The profile dialog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileDialog {
    /// A built-in profile being looked at (no form), instead of the draft.
    pub viewing: Option<ProfileId>,
    /// The form.
    pub draft: ProfileDraft,
    /// Show connection strings in clear.
    pub reveal: bool,
    /// Result of the last save, or an error.
    pub message: Option<String>,
}

/// The add-device dialog.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AddDeviceDraft {
    /// Id.
    pub device_id: String,
    /// Give keys instead of letting the service generate them.
    pub own_keys: bool,
    /// Primary key (base64).
    pub primary_key: String,
    /// Secondary key (base64).
    pub secondary_key: String,
}

impl std::fmt::Debug for AddDeviceDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddDeviceDraft").field("device_id", &self.device_id).field("own_keys", &self.own_keys).finish_non_exhaustive()
    }
}

/// Profiles and the dialog.
#[derive(Clone, Debug)]
pub struct ProfilesState {
    /// All profiles.
    pub list: Vec<ProfileSummary>,
    /// Active profile.
    pub active: ProfileId,
    /// Keyring availability.
    pub keyring: KeyringStatus,
    /// The dialog, when open.
    pub dialog: Option<ProfileDialog>,
}

impl Default for ProfilesState {
    fn default() -> Self {
        Self { list: Vec::new(), active: ProfileId::simulator(), keyring: KeyringStatus::Available, dialog: None }
    }
}

impl ProfilesState {
    /// The active profile's summary.
    pub fn active_summary(&self) -> Option<&ProfileSummary> {
        self.list.iter().find(|profile| profile.id == self.active)
    }
}

/// Everything the console shows.
#[derive(Debug, Default)]
pub struct AppState {
    /// Current page.
    pub page: Page,
    /// Connection.
    pub connection: ConnectionStatus,
    /// Profiles.
    pub profiles: ProfilesState,
    /// Device page.
    pub devices: DevicesState,
    /// Activity log.
    pub activity: ActivityLog,
    /// Status bar.
    pub status: StatusState,
    /// Toasts to show (drained by the view).
    pub notices: Vec<Notice>,
    /// The add-device dialog, when open.
    pub add_device: Option<AddDeviceDraft>,
    /// Devices awaiting delete confirmation.
    pub confirm_delete: Option<Vec<DeleteTarget>>,
    /// Text to put on the clipboard this frame (may hold a key; never logged).
    pub clipboard: Option<Secret>,
    /// The twin editor, once a twin was opened.
    pub twin: Option<TwinEditor>,
    /// The Jobs page.
    pub jobs: JobsState,
    /// The direct-method panel and its history.
    pub method: MethodPanel,
    /// The profile's hubs (the simulator has several).
    pub hubs: Vec<super::event::HubRef>,
    /// The hub the device list and twin editor show (name).
    pub hub: String,
    /// The profile has a DPS instance.
    pub dps_configured: bool,
    /// The Enrollments page.
    pub enrollments: super::enrollments::EnrollmentsState,
    /// A device to open once the hub switch finishes (hub name, device).
    pub pending_twin: Option<(String, Arc<str>)>,
    next_request: u64,
}

impl AppState {
    /// Loads devices for the query bar's text (Ctrl+R, Run, after changes).
    pub fn refresh(&mut self, out: &mut Vec<Command>) {
        if !matches!(self.connection, ConnectionStatus::Connected { .. }) {
            return;
        }
        if let Some(previous) = self.devices.loading_request() {
            out.push(Command::CancelLoad(previous));
        }
        self.next_request += 1;
        let request = RequestId(self.next_request);
        self.devices.start_load(request, out);
    }

    /// Opens `device_id`'s twin in the editor. Unsaved work on another twin is never dropped:
    /// the user is asked first.
    pub fn open_twin(&mut self, device_id: Arc<str>, out: &mut Vec<Command>) {
        self.page = Page::Twin;
        match &mut self.twin {
            Some(editor) if editor.device_id == device_id => {}
            Some(editor) if editor.has_unsaved_work() => editor.confirm_discard = Some(DiscardThen::Open(device_id)),
            _ => self.twin = Some(TwinEditor::open(device_id, out)),
        }
    }

    /// The user confirmed throwing the twin draft away.
    pub fn discard_twin_draft(&mut self, out: &mut Vec<Command>) {
        let Some(then) = self.twin.as_mut().and_then(|editor| editor.confirm_discard.take()) else {
            return;
        };
        match then {
            DiscardThen::Reset => {
                if let Some(editor) = &mut self.twin {
                    editor.reset();
                }
            }
            DiscardThen::Open(device_id) => self.twin = Some(TwinEditor::open(device_id, out)),
            DiscardThen::Close => {
                self.twin = None;
                self.page = Page::Devices;
            }
        }
    }

    /// HTTP requests in flight.
    pub fn in_flight(&self) -> usize {
        match &self.connection {
            ConnectionStatus::Connected { in_flight, .. } => in_flight.load(Ordering::Relaxed),
            _ => 0,
        }
    }

    pub(super) fn notify(&mut self, level: NoticeLevel, text: impl Into<String>) {
        self.notices.push(Notice { level, text: text.into() });
    }

    /// Applies one backend event; follow-up commands go to `out`.
    pub fn apply(&mut self, event: Event, out: &mut Vec<Command>) {
        match event {
            Event::Profiles { profiles, active, keyring } => {
                self.profiles.list = profiles;
                self.profiles.active = active;
                self.profiles.keyring = keyring;
            }
            Event::ProfileSaved { id, placement } => {
                let name = self
                    .profiles
                    .list
                    .iter()
                    .find(|profile| profile.id == id)
                    .map_or_else(|| id.to_string(), |profile| profile.name.clone());
                if let Some(dialog) = &mut self.profiles.dialog {
                    dialog.message = Some(format!("Saved '{name}'. {}", placement.describe()));
                    dialog.draft.id = Some(id);
                }
                self.notify(NoticeLevel::Success, format!("Profile '{name}' saved"));
            }
            Event::ProfileFailed(message) => {
                if let Some(dialog) = &mut self.profiles.dialog {
                    dialog.message = Some(message.clone());
                }
                self.notify(NoticeLevel::Error, message);
            }
            Event::ProfileForEdit(draft) => {
                if let Some(dialog) = &mut self.profiles.dialog {
                    dialog.draft = draft;
                    dialog.message = None;
                }
            }
            Event::Connecting(profile) => {
                let switching = match &self.connection {
                    ConnectionStatus::Connected { profile: current, .. }
                    | ConnectionStatus::Failed { profile: current, .. }
                    | ConnectionStatus::Connecting(current) => *current != profile,
                    ConnectionStatus::Starting => false,
                };
                if switching {
                    self.forget_hub_content();
                    // Enrollments belong to the profile's DPS; a draft must never be saved to another one.
                    if let Some(editor) = &self.enrollments.editor
                        && editor.is_dirty()
                    {
                        let id = editor.base.id().to_owned();
                        self.notify(
                            NoticeLevel::Info,
                            format!("Closed the enrollment editor of {id} (another profile). Its unsaved changes were not sent."),
                        );
                    }
                    self.enrollments = super::enrollments::EnrollmentsState::default();
                    self.pending_twin = None;
                }
                self.profiles.active = profile.clone();
                self.connection = ConnectionStatus::Connecting(profile);
            }
            Event::Connected { profile, host, in_flight, notice, hubs, hub, dps } => {
                if !self.hub.is_empty() && self.hub != hub {
                    self.forget_hub_content();
                }
                self.connection = ConnectionStatus::Connected { profile, host, in_flight };
                self.hubs = hubs;
                self.hub = hub;
                self.dps_configured = dps;
                if let Some(notice) = notice {
                    self.notify(NoticeLevel::Info, notice);
                }
                self.refresh(out);
                if let Some((hub, device_id)) = self.pending_twin.take() {
                    if hub == self.hub {
                        self.open_twin(device_id, out);
                    } else {
                        self.pending_twin = Some((hub, device_id));
                    }
                }
                if self.page == Page::Enrollments && self.enrollments.load == super::enrollments::ListLoad::Idle {
                    self.load_enrollments(out);
                }
            }
            Event::ConnectionFailed { profile, message } => {
                self.notify(NoticeLevel::Error, format!("Cannot use profile '{profile}': {message}"));
                self.connection = ConnectionStatus::Failed { profile, message };
            }
            Event::DevicesPage { request, rows } => self.devices.add_rows(request, rows),
            Event::RawPage { request, rows } => self.devices.add_raw(request, rows),
            Event::DevicesTotal { request, total } => self.devices.set_total(request, total),
            Event::LoadFinished { request, cancelled } => {
                self.devices.finish_load(request, cancelled);
            }
            Event::LoadFailed { request, status, message } => self.devices.fail_load(request, message, status),
            Event::Details { device_id, result } => {
                if let Some(details) = &mut self.devices.details
                    && details.device_id == device_id
                {
                    details.loaded = Some(result.map(|boxed| *boxed));
                }
            }
            Event::ActionDone { summary, failures } => {
                if failures.is_empty() {
                    self.notify(NoticeLevel::Success, summary);
                } else {
                    let shown: Vec<&str> = failures.iter().take(3).map(String::as_str).collect();
                    let more = failures.len().saturating_sub(shown.len());
                    let tail = if more > 0 { format!(" (and {more} more)") } else { String::new() };
                    self.notify(NoticeLevel::Error, format!("{summary}: {}{tail}", shown.join("; ")));
                }
                if let Some(details) = &self.devices.details {
                    let device_id = Arc::clone(&details.device_id);
                    self.devices.open_details(device_id, out);
                }
                self.refresh(out);
            }
            Event::ConnectionString { device_id, text } => {
                self.clipboard = Some(text);
                self.notify(NoticeLevel::Info, format!("Connection string of {device_id} copied to the clipboard"));
            }
            Event::TwinLoaded { device_id, refresh, result } => {
                if let Some(editor) = self.twin.as_mut().filter(|editor| editor.device_id == device_id) {
                    match result {
                        Ok(twin) => editor.loaded(*twin, refresh),
                        Err(message) => editor.load_failed(message, refresh),
                    }
                }
            }
            Event::TwinSaved { device_id, outcome } => self.twin_saved(&device_id, outcome),
            event @ (Event::JobsLoaded(_)
            | Event::TargetPreview(_)
            | Event::JobsCreated(_)
            | Event::JobProgress { .. }
            | Event::JobWatchFailed { .. }
            | Event::JobCancelled(_)
            | Event::MethodDone { .. }
            | Event::CsvExported(_)) => self.apply_job_event(event, out),
            event @ (Event::EnrollmentsLoaded(_)
            | Event::EnrollmentSaved { .. }
            | Event::EnrollmentDeleted { .. }
            | Event::BulkPolicyDone(_)
            | Event::EnrollmentRecords { .. }
            | Event::EnrollmentKeys { .. }
            | Event::ReRegisterSent { .. }
            | Event::EnrollmentFound { .. }) => self.apply_dps_event(event, out),
            Event::Client(ClientEvent::Call(record)) => self.log_call(record),
            Event::Client(ClientEvent::RetryWaiting(notice)) => self.status.retry = Some(notice),
        }
    }

    /// Another hub is shown: its devices, twin and job views start empty. A twin draft is for one
    /// hub and must never be saved to another.
    fn forget_hub_content(&mut self) {
        let mut fresh = DevicesState::default();
        fresh.query_input = std::mem::take(&mut self.devices.query_input);
        fresh.columns = std::mem::take(&mut self.devices.columns);
        fresh.sort = self.devices.sort.take();
        self.devices = fresh;
        if let Some(editor) = self.twin.take() {
            let lost = if editor.has_unsaved_work() { " Its unsaved changes were not sent." } else { "" };
            self.notify(NoticeLevel::Info, format!("Closed the twin editor of {} (another hub).{lost}", editor.device_id));
            if self.page == Page::Twin {
                self.page = Page::Devices;
            }
        }
        self.jobs = JobsState::default();
    }

    /// Opens a job's detail and starts streaming its progress.
    pub fn open_job(&mut self, job_id: String, out: &mut Vec<Command>) {
        self.page = Page::Jobs;
        if self.jobs.detail.as_ref().is_some_and(|detail| detail.job_id == job_id) {
            return;
        }
        self.jobs.detail = Some(JobDetail { job_id: job_id.clone(), ..JobDetail::default() });
        out.push(Command::WatchJob(job_id));
    }

    /// Closes the job detail; its stream stops.
    pub fn close_job(&mut self, out: &mut Vec<Command>) {
        if self.jobs.detail.take().is_some() {
            out.push(Command::StopWatchingJob);
        }
    }

    /// Sends the direct method in the panel's form.
    pub fn invoke_method(&mut self, out: &mut Vec<Command>) {
        let Some(form) = &self.method.form else {
            return;
        };
        let Ok(method) = form.request() else {
            return;
        };
        self.method.history.push(MethodInvocation {
            at: std::time::SystemTime::now(),
            device_id: Arc::clone(&form.device_id),
            method_name: method.method_name.clone(),
            result: None,
        });
        out.push(Command::InvokeMethod { device_id: Arc::clone(&form.device_id), method });
    }

    fn target_preview(&mut self, preview: TargetPreview) {
        if let Some(draft) = &mut self.jobs.draft
            && draft.preview_condition().as_deref() == Some(preview.condition.as_str())
        {
            draft.preview = Some(preview);
        }
    }

    fn jobs_created(&mut self, results: Vec<Result<crate::azure::wire::JobResponse, String>>, out: &mut Vec<Command>) {
        let created: Vec<String> = results.iter().filter_map(|result| result.as_ref().ok()).map(|job| job.job_id.clone()).collect();
        let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if let Some(draft) = &mut self.jobs.draft {
            draft.submitting = false;
        }
        if failures.is_empty() {
            self.jobs.draft = None;
            let what = if created.len() == 1 { format!("Job {} created", created[0]) } else { format!("{} jobs created", created.len()) };
            self.notify(NoticeLevel::Success, what);
        } else {
            let message = if created.is_empty() {
                failures.join("; ")
            } else {
                format!("created {} but not the rest: {}", created.join(", "), failures.join("; "))
            };
            if let Some(draft) = &mut self.jobs.draft {
                draft.error = Some(message.clone());
            }
        }
        if let Some(first) = created.into_iter().next() {
            self.open_job(first, out);
        }
        out.push(Command::LoadJobs);
        self.jobs.loading = true;
    }

    fn job_progress(
        &mut self,
        job: crate::azure::wire::JobResponse,
        rows: Option<Vec<crate::azure::wire::DeviceJob>>,
        out: &mut Vec<Command>,
    ) {
        let Some(detail) = self.jobs.detail.as_mut().filter(|detail| detail.job_id == job.job_id) else {
            return;
        };
        let stats = job.device_job_statistics.unwrap_or_default();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64());
        if detail.samples.is_empty() {
            detail.samples_origin = now;
        }
        let seconds = now - detail.samples_origin;
        detail.samples.push(ProgressSample {
            seconds,
            succeeded: stats.succeeded_count,
            failed: stats.failed_count,
            running: stats.running_count,
        });
        let finished_now = job.status.is_final() && detail.job.as_ref().is_some_and(|previous| !previous.status.is_final());
        if let Some(rows) = rows {
            detail.rows = rows;
        }
        detail.error = None;
        // Keep the list's copy of this job current too.
        if let Some(listed) = self.jobs.list.iter_mut().find(|listed| listed.job_id == job.job_id) {
            *listed = job.clone();
        }
        detail.job = Some(job);
        if finished_now {
            out.push(Command::LoadJobs);
        }
    }

    /// Job, method and export events (kept apart from `apply` so each match stays readable).
    fn apply_job_event(&mut self, event: Event, out: &mut Vec<Command>) {
        match event {
            Event::JobsLoaded(result) => {
                self.jobs.loading = false;
                match result {
                    Ok(list) => {
                        self.jobs.list = list;
                        self.jobs.list_error = None;
                    }
                    Err(message) => self.jobs.list_error = Some(message),
                }
            }
            Event::TargetPreview(preview) => self.target_preview(preview),
            Event::JobsCreated(results) => self.jobs_created(results, out),
            Event::JobProgress { job, rows } => self.job_progress(*job, rows, out),
            Event::JobWatchFailed { job_id, message } => {
                if let Some(detail) = self.jobs.detail.as_mut().filter(|detail| detail.job_id == job_id) {
                    detail.error = Some(message);
                }
            }
            Event::JobCancelled(result) => match result {
                Ok(job) => {
                    self.notify(NoticeLevel::Success, format!("Job {} cancelled", job.job_id));
                    out.push(Command::LoadJobs);
                    self.jobs.loading = true;
                }
                Err(message) => self.notify(NoticeLevel::Error, format!("Could not cancel the job: {message}")),
            },
            Event::MethodDone { device_id, method_name, result } => {
                if let Some(call) = self
                    .method
                    .history
                    .iter_mut()
                    .rev()
                    .find(|call| call.result.is_none() && call.device_id == device_id && call.method_name == method_name)
                {
                    call.result = Some(result);
                }
            }
            Event::CsvExported(result) => {
                let message = match result {
                    Ok(Some(path)) => format!("Saved {}", path.display()),
                    Ok(None) => "Export cancelled".to_owned(),
                    Err(message) => format!("Export failed: {message}"),
                };
                if let Some(detail) = &mut self.jobs.detail {
                    detail.export_message = Some(message);
                }
            }
            _ => {}
        }
    }

    fn twin_saved(&mut self, device_id: &Arc<str>, outcome: TwinSaveOutcome) {
        let Some(editor) = self.twin.as_mut().filter(|editor| editor.device_id == *device_id) else {
            return;
        };
        match outcome {
            TwinSaveOutcome::Saved(twin) => {
                let version = twin.desired_version().map_or_else(String::new, |version| format!(" (desired $version {version})"));
                editor.saved(*twin, Instant::now());
                self.notify(NoticeLevel::Success, format!("Saved the twin of {device_id}{version}"));
            }
            TwinSaveOutcome::Conflict(twin) => {
                editor.start_conflict(*twin);
                self.notify(NoticeLevel::Info, format!("The twin of {device_id} changed since you opened it; choose what to keep"));
            }
            TwinSaveOutcome::Failed(message) => editor.save_failed(message),
        }
    }

    fn log_call(&mut self, record: crate::azure::events::CallRecord) {
        let ends_retry =
            self.status.retry.as_ref().is_some_and(|waiting| waiting.operation == record.operation && waiting.target == record.target);
        if ends_retry && record.outcome != CallOutcome::WillRetry {
            self.status.retry = None;
        }
        // A 412 is a stale etag: every caller handles it (conflict view, per-device failure list),
        // so it is logged but not shouted about.
        let failed = record.outcome == CallOutcome::Failed && record.status != Some(412);
        let text = format!(
            "{} {} failed: {}{}",
            record.operation,
            record.target,
            record.status.map_or_else(String::new, |status| format!("HTTP {status} ")),
            record.error_message.as_deref().unwrap_or("")
        );
        let seq = self.activity.push(record);
        if failed {
            self.status.last_error = Some((seq, text.clone()));
            self.notify(NoticeLevel::Error, format!("{text} (Activity #{seq})"));
        }
    }
}
