//! Events: what the backend tells the UI, grouped by feature. Plain data; the reducer
//! (`AppState::apply`, one exhaustive `apply_*` per feature) is the only place they change state.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use serde_json::Value;

use super::command::RequestId;
use super::connect_device::{DeviceCredential, DeviceSide};
use super::device_row::DeviceRow;
use super::enrollments::{AnyEnrollment, EnrollmentLists, ItemResults};
use super::error::AppError;
use super::job_draft::TargetPreview;
use super::live::LiveUpdate;
use super::profile::{ProfileDraft, ProfileId, ProfileSummary, SecretPlacement};
use crate::azure::events::ClientEvent;
use crate::azure::secret::Secret;
use crate::azure::wire::{Device, DeviceJob, DeviceRegistrationState, JobResponse, MethodResult, Twin};

/// Whether an OS keyring could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringStatus {
    /// Secrets go to the keyring.
    Available,
    /// No keyring, with the reason (e.g. no Secret Service on the session bus).
    Unavailable(String),
}

/// How a twin save ended.
#[derive(Clone, Debug)]
pub enum TwinSaveOutcome {
    /// Saved; the twin as the service now has it.
    Saved(Box<Twin>),
    /// 412: someone else saved first; the twin as it is now.
    Conflict(Box<Twin>),
    /// Refused or failed.
    Failed(AppError),
}

/// One of the profile's hubs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubRef {
    /// Display name (`contoso-east`, or the host name of a saved profile's hub).
    pub name: String,
    /// Host name as DPS records it (`assignedHub`).
    pub host: String,
}

/// How an enrollment save ended.
#[derive(Clone, Debug)]
pub enum EnrollmentSaveOutcome {
    /// Saved; as the service now has it.
    Saved(Box<AnyEnrollment>),
    /// 412: the version someone else saved.
    Conflict(Box<AnyEnrollment>),
    /// Refused or failed.
    Failed(AppError),
}

/// Backend → UI, one variant per feature.
#[derive(Clone, Debug)]
pub enum Event {
    /// The profile list and the profile dialog.
    Profiles(ProfileEvent),
    /// Connecting to the active profile's hubs.
    Connection(ConnectionEvent),
    /// The device list, details panel and device actions.
    Devices(DeviceEvent),
    /// The twin editor.
    Twin(TwinEvent),
    /// Jobs, direct methods and the CSV export.
    Jobs(JobEvent),
    /// DPS enrollments and registrations.
    Dps(DpsEvent),
    /// Something from the HTTP client (a call finished, a retry wait started).
    Client(ClientEvent),
}

/// Profile list and dialog events.
#[derive(Clone, Debug)]
pub enum ProfileEvent {
    /// The profile list changed (or was loaded at start).
    Listed {
        /// All profiles, the built-in simulator first.
        profiles: Vec<ProfileSummary>,
        /// The profile in use.
        active: ProfileId,
        /// Whether secrets can go to the OS keyring.
        keyring: KeyringStatus,
    },
    /// A profile was saved.
    Saved {
        /// The saved profile.
        id: ProfileId,
        /// Where its secrets went.
        placement: SecretPlacement,
    },
    /// A profile could not be saved, deleted or loaded for editing.
    Failed(AppError),
    /// A saved profile, loaded into the edit form.
    ForEdit(ProfileDraft),
    /// The CA-file picker closed: the file chosen, or `None` when cancelled.
    CaFilePicked(Result<Option<PathBuf>, AppError>),
}

/// Connection events.
#[derive(Clone, Debug)]
pub enum ConnectionEvent {
    /// Connecting with a profile (the simulator may be starting).
    Connecting(ProfileId),
    /// Connected to one of the profile's hubs.
    Connected(Box<Connected>),
    /// The profile could not be used.
    Failed {
        /// The profile that failed.
        profile: ProfileId,
        /// Why it could not be used.
        error: AppError,
    },
}

/// What a connection brings.
#[derive(Clone, Debug)]
pub struct Connected {
    /// The profile now in use.
    pub profile: ProfileId,
    /// Host name of the hub in use.
    pub host: String,
    /// HTTP requests in flight right now (read each frame).
    pub in_flight: Arc<AtomicUsize>,
    /// Something the user should know (e.g. the simulator fell back to a temporary state).
    pub notice: Option<String>,
    /// The profile's hubs.
    pub hubs: Vec<HubRef>,
    /// Name of the hub in use.
    pub hub: String,
    /// A DPS instance is configured.
    pub dps: bool,
    /// How device code reaches the hub in use (for "Connect a device…").
    pub device_side: DeviceSide,
}

/// Device list, details and action events.
#[derive(Clone, Debug)]
pub enum DeviceEvent {
    /// A page of twins for the load `request`.
    Page {
        /// The load the page belongs to.
        request: RequestId,
        /// The twins, flattened into rows.
        rows: Vec<DeviceRow>,
    },
    /// A page of raw rows (projection or aggregate) for the load `request`.
    RawPage {
        /// The load the page belongs to.
        request: RequestId,
        /// The rows as the service returned them.
        rows: Vec<Value>,
    },
    /// The `SELECT COUNT()` answer for the load `request`.
    Total {
        /// The load the count belongs to.
        request: RequestId,
        /// How many devices the query matches.
        total: u64,
    },
    /// All pages arrived, or the load was cancelled.
    LoadFinished {
        /// The load that ended.
        request: RequestId,
        /// True if cancelled.
        cancelled: bool,
    },
    /// A load failed.
    LoadFailed {
        /// The load that failed.
        request: RequestId,
        /// Why it failed (a 400 is a query error).
        error: AppError,
    },
    /// Identity and twin for the details panel.
    Details {
        /// The details load this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// Identity and twin, or why not.
        result: Result<Box<(Device, Twin)>, AppError>,
    },
    /// A device action (create, enable/disable, delete) finished.
    ActionDone {
        /// The action this answers.
        request: RequestId,
        /// What happened, for a toast ("Deleted 2 devices").
        summary: String,
        /// Per-device failures (`b43-…: PreconditionFailed …`).
        failures: Vec<String>,
    },
    /// A device connection string for the clipboard.
    ConnectionString {
        /// The action this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// The string (holds the device key).
        text: Secret,
    },
    /// The answer to a live poll of the rows in view.
    Live {
        /// The poll this answers.
        request: RequestId,
        /// The rows' connections (and real devices' connections), or why not.
        result: Result<LiveUpdate, AppError>,
    },
    /// A device's key for "Connect a device…".
    Credential {
        /// The load this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// The key, why there is none, or why it could not be read.
        result: Result<DeviceCredential, AppError>,
    },
}

/// Twin editor events.
#[derive(Clone, Debug)]
pub enum TwinEvent {
    /// A twin for the editor.
    Loaded {
        /// The twin load this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// A poll (not the first load).
        refresh: bool,
        /// The twin, or why not.
        result: Result<Box<Twin>, AppError>,
    },
    /// The editor's save finished.
    Saved {
        /// The save this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// Saved, conflict, or failed.
        outcome: TwinSaveOutcome,
    },
}

/// Jobs page, direct method and export events.
#[derive(Clone, Debug)]
pub enum JobEvent {
    /// The job list.
    ListLoaded {
        /// The list load this answers.
        request: RequestId,
        /// Every job, or why not.
        result: Result<Vec<JobResponse>, AppError>,
    },
    /// A target preview.
    TargetPreview {
        /// The preview load this answers.
        request: RequestId,
        /// Count and first devices, or why not.
        result: Result<TargetPreview, AppError>,
    },
    /// Jobs were created (or not), one result per job asked for.
    Created {
        /// The action this answers.
        request: RequestId,
        /// Each job as created, or why not.
        results: Vec<Result<JobResponse, AppError>>,
    },
    /// A watched job's state; `rows` when the per-device results were read too.
    Progress {
        /// The watch this update belongs to.
        request: RequestId,
        /// The job record.
        job: Box<JobResponse>,
        /// Every device's result, when read this time.
        rows: Option<Vec<DeviceJob>>,
    },
    /// Watching a job failed for now (it keeps trying).
    WatchFailed {
        /// The watch whose last read failed.
        request: RequestId,
        /// Why the last read failed.
        error: AppError,
    },
    /// A cancel finished.
    Cancelled {
        /// The action this answers.
        request: RequestId,
        /// The job as cancelled, or why not.
        result: Result<Box<JobResponse>, AppError>,
    },
    /// A direct method finished.
    MethodDone {
        /// The call this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// The method invoked.
        method_name: String,
        /// The device's answer, or the error.
        result: Result<MethodResult, AppError>,
    },
    /// The CSV export finished.
    CsvExported {
        /// The export this answers.
        request: RequestId,
        /// The path written, `None` when the dialog was cancelled, or why not.
        result: Result<Option<PathBuf>, AppError>,
    },
}

/// DPS events.
#[derive(Clone, Debug)]
pub enum DpsEvent {
    /// The enrollment lists.
    EnrollmentsLoaded {
        /// The list load this answers.
        request: RequestId,
        /// Both lists, or why not.
        result: Result<EnrollmentLists, AppError>,
    },
    /// An enrollment save finished.
    Saved {
        /// The save this answers.
        request: RequestId,
        /// Registration or group id.
        id: String,
        /// Saved, conflict, or failed.
        outcome: EnrollmentSaveOutcome,
    },
    /// A delete finished.
    Deleted {
        /// The action this answers.
        request: RequestId,
        /// Registration or group id.
        id: String,
        /// Deleted, or why not.
        result: Result<(), AppError>,
    },
    /// A bulk policy change finished.
    BulkPolicyDone {
        /// The action this answers.
        request: RequestId,
        /// Per item `Ok` or why not; or why the whole change failed.
        result: Result<ItemResults, AppError>,
    },
    /// Registration records of an enrollment or group.
    Records {
        /// The records load this answers.
        request: RequestId,
        /// Registration or group id.
        id: String,
        /// The records, or why not.
        result: Result<Vec<DeviceRegistrationState>, AppError>,
    },
    /// Keys read for copying.
    Keys {
        /// The keys load this answers.
        request: RequestId,
        /// Registration or group id.
        id: String,
        /// Primary and secondary, or why not.
        result: Result<(Secret, Secret), AppError>,
    },
    /// A device was asked to register again.
    ReRegisterSent {
        /// The action this answers.
        request: RequestId,
        /// Its registration id.
        registration_id: String,
        /// Accepted, or why not.
        result: Result<(), AppError>,
    },
    /// The enrollment a device registered through (`None`: none found).
    EnrollmentFound {
        /// The lookup this answers.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// Found, none, or why not.
        result: Result<Option<Box<AnyEnrollment>>, AppError>,
    },
}

wrap_feature!(Event:
    ProfileEvent => Profiles,
    ConnectionEvent => Connection,
    DeviceEvent => Devices,
    TwinEvent => Twin,
    JobEvent => Jobs,
    DpsEvent => Dps,
);
