//! The console's whole state and its reducer: events in, state changes and follow-up commands
//! out. No egui here, so all of it is unit-tested without a UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::activity::ActivityLog;
use super::clock::Now;
use super::command::{Command, DeleteTarget};
use super::connect_device::{ConnectDialog, DeviceSide};
use super::devices::DevicesState;
use super::enrollments::EnrollmentsState;
use super::error::AppError;
use super::event::{Event, HubRef, KeyringStatus};
use super::jobs::JobsState;
use super::method_call::MethodPanel;
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
    /// Scheduled jobs and their progress.
    Jobs,
    /// DPS enrollments and registrations.
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
    /// Connected to a hub of the profile.
    Connected {
        /// The profile in use.
        profile: ProfileId,
        /// Host name of the hub in use.
        host: String,
        /// HTTP requests in flight right now.
        in_flight: Arc<AtomicUsize>,
    },
    /// The profile could not be used.
    Failed {
        /// The profile that failed.
        profile: ProfileId,
        /// Why it could not be used.
        error: AppError,
    },
}

/// How a notice looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLevel {
    /// Neutral information.
    Info,
    /// Something worked.
    Success,
    /// Something failed.
    Error,
}

/// A message to show once as a toast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Info, success or error (color and how long it stays).
    pub level: NoticeLevel,
    /// The sentence shown.
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
    /// The form of the profile being created or edited.
    pub draft: ProfileDraft,
    /// Show connection strings in clear.
    pub reveal: bool,
    /// Result of the last save, or an error.
    pub message: Option<String>,
    /// The CA-file dialog is open (Browse… is disabled until it answers).
    pub picking_ca: bool,
}

/// The add-device dialog.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AddDeviceDraft {
    /// The device id typed.
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
    /// Every profile, the built-in simulator first.
    pub list: Vec<ProfileSummary>,
    /// The profile in use.
    pub active: ProfileId,
    /// Whether secrets can go to the OS keyring.
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
    /// The page shown.
    pub page: Page,
    /// The connection to the active profile's hub.
    pub connection: ConnectionStatus,
    /// The profile list and its dialog.
    pub profiles: ProfilesState,
    /// The device page.
    pub devices: DevicesState,
    /// Every HTTP call of the session.
    pub activity: ActivityLog,
    /// The status bar's last error and retry wait.
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
    pub hubs: Vec<HubRef>,
    /// The hub the device list and twin editor show (name).
    pub hub: String,
    /// The profile has a DPS instance.
    pub dps_configured: bool,
    /// The Enrollments page.
    pub enrollments: EnrollmentsState,
    /// A device to open once the hub switch finishes (hub name, device).
    pub pending_twin: Option<(String, Arc<str>)>,
    /// How device code reaches the hub in use.
    pub device_side: DeviceSide,
    /// The "Connect a device…" window, when open.
    pub connect_device: Option<ConnectDialog>,
}

impl AppState {
    /// Loads devices for the query bar's text (Ctrl+R, Run, after changes).
    pub fn refresh(&mut self, out: &mut Vec<Command>) {
        if !matches!(self.connection, ConnectionStatus::Connected { .. }) {
            return;
        }
        self.devices.start_load(out);
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

    /// Opens "Connect a device…" for `device_id` (its key is read on demand).
    pub fn open_connect_device(&mut self, device_id: Arc<str>, out: &mut Vec<Command>) {
        self.connect_device = Some(ConnectDialog::open(device_id, out));
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
            ConnectionStatus::Starting | ConnectionStatus::Connecting(_) | ConnectionStatus::Failed { .. } => 0,
        }
    }

    pub(super) fn notify(&mut self, level: NoticeLevel, text: impl Into<String>) {
        self.notices.push(Notice { level, text: text.into() });
    }

    /// Applies one backend event at `now`; follow-up commands go to `out`. Each feature has its
    /// own exhaustive reducer, so a new event cannot be silently ignored.
    pub fn apply(&mut self, event: Event, now: Now, out: &mut Vec<Command>) {
        match event {
            Event::Profiles(event) => self.apply_profile_event(event),
            Event::Connection(event) => self.apply_connection_event(event, out),
            Event::Devices(event) => self.apply_device_event(event, out),
            Event::Twin(event) => self.apply_twin_event(event, now),
            Event::Jobs(event) => self.apply_job_event(event, now, out),
            Event::Dps(event) => self.apply_dps_event(event, now, out),
            Event::Client(ClientEvent::Call(record)) => self.log_call(record),
            Event::Client(ClientEvent::RetryWaiting(notice)) => self.status.retry = Some(notice),
        }
    }

    /// Another hub is shown: its devices, twin and job views start empty. A twin draft is for one
    /// hub and must never be saved to another.
    pub(super) fn forget_hub_content(&mut self) {
        let mut fresh = DevicesState::default();
        fresh.query_input = std::mem::take(&mut self.devices.query_input);
        fresh.columns = std::mem::take(&mut self.devices.columns);
        fresh.sort = self.devices.sort.take();
        fresh.connected_only = self.devices.connected_only;
        self.devices = fresh;
        self.connect_device = None; // its device and key are the other hub's
        if let Some(editor) = self.twin.take() {
            let lost = if editor.has_unsaved_work() { " Its unsaved changes were not sent." } else { "" };
            self.notify(NoticeLevel::Info, format!("Closed the twin editor of {} (another hub).{lost}", editor.device_id));
            if self.page == Page::Twin {
                self.page = Page::Devices;
            }
        }
        self.jobs = JobsState::default();
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
