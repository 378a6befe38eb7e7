//! Events: what the backend tells the UI. Plain data; the reducer (`AppState::apply`) is the
//! only place they change state.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use serde_json::Value;

use super::command::RequestId;
use super::device_row::DeviceRow;
use super::profile::{ProfileDraft, ProfileId, ProfileSummary, SecretPlacement};
use crate::azure::events::ClientEvent;
use crate::azure::secret::Secret;
use crate::azure::wire::{Device, Twin};

/// Whether an OS keyring could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringStatus {
    /// Secrets go to the keyring.
    Available,
    /// No keyring; why (e.g. no Secret Service on the session bus).
    Unavailable(String),
}

/// How a twin save ended.
#[derive(Clone, Debug)]
pub enum TwinSaveOutcome {
    /// Saved; the twin as the service now has it.
    Saved(Box<Twin>),
    /// 412: someone else saved first; the twin as it is now.
    Conflict(Box<Twin>),
    /// Refused or failed; why.
    Failed(String),
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
    Saved(Box<super::enrollments::AnyEnrollment>),
    /// 412: their version.
    Conflict(Box<super::enrollments::AnyEnrollment>),
    /// Refused or failed; why.
    Failed(String),
}

/// Backend → UI.
#[derive(Clone, Debug)]
pub enum Event {
    /// The profile list changed (or was loaded at start).
    Profiles {
        /// All profiles, the built-in simulator first.
        profiles: Vec<ProfileSummary>,
        /// The active one.
        active: ProfileId,
        /// Keyring availability.
        keyring: KeyringStatus,
    },
    /// A profile was saved; where its secrets went.
    ProfileSaved {
        /// Which.
        id: ProfileId,
        /// Where the secrets are.
        placement: SecretPlacement,
    },
    /// A profile could not be saved or loaded for editing.
    ProfileFailed(String),
    /// A saved profile, loaded into the edit form.
    ProfileForEdit(ProfileDraft),
    /// Connecting with a profile (the simulator may be starting).
    Connecting(ProfileId),
    /// Connected.
    Connected {
        /// Which profile.
        profile: ProfileId,
        /// Host name in use.
        host: String,
        /// HTTP requests in flight right now (read each frame).
        in_flight: Arc<AtomicUsize>,
        /// Something the user should know (e.g. the simulator fell back to a temporary state).
        notice: Option<String>,
        /// The profile's hubs.
        hubs: Vec<HubRef>,
        /// The hub in use (name).
        hub: String,
        /// A DPS instance is configured.
        dps: bool,
    },
    /// The profile could not be used.
    ConnectionFailed {
        /// Which profile.
        profile: ProfileId,
        /// Why.
        message: String,
    },
    /// A page of twins.
    DevicesPage {
        /// Load.
        request: RequestId,
        /// Rows.
        rows: Vec<DeviceRow>,
    },
    /// A page of raw rows.
    RawPage {
        /// Load.
        request: RequestId,
        /// Rows.
        rows: Vec<Value>,
    },
    /// The `SELECT COUNT()` answer.
    DevicesTotal {
        /// Load.
        request: RequestId,
        /// Count.
        total: u64,
    },
    /// All pages arrived, or the load was cancelled.
    LoadFinished {
        /// Load.
        request: RequestId,
        /// True if cancelled.
        cancelled: bool,
    },
    /// A load failed.
    LoadFailed {
        /// Load.
        request: RequestId,
        /// HTTP status, when the service answered.
        status: Option<u16>,
        /// Message.
        message: String,
    },
    /// Identity and twin for the details panel.
    Details {
        /// Which device.
        device_id: Arc<str>,
        /// Loaded, or why not.
        result: Result<Box<(Device, Twin)>, String>,
    },
    /// A device action (create, enable/disable, delete) finished.
    ActionDone {
        /// What happened, for a toast ("Deleted 2 devices").
        summary: String,
        /// Per-device failures (`b43-…: PreconditionFailed …`).
        failures: Vec<String>,
    },
    /// A device connection string for the clipboard.
    ConnectionString {
        /// Which device.
        device_id: Arc<str>,
        /// The string (holds the device key).
        text: Secret,
    },
    /// A twin for the editor.
    TwinLoaded {
        /// Which device.
        device_id: Arc<str>,
        /// A poll (not the first load).
        refresh: bool,
        /// The twin, or why not.
        result: Result<Box<Twin>, String>,
    },
    /// The editor's save finished.
    TwinSaved {
        /// Which device.
        device_id: Arc<str>,
        /// What happened.
        outcome: TwinSaveOutcome,
    },
    /// The job list.
    JobsLoaded(Result<Vec<crate::azure::wire::JobResponse>, String>),
    /// A target preview.
    TargetPreview(super::job_draft::TargetPreview),
    /// Jobs were created (or not), one result per request.
    JobsCreated(Vec<Result<crate::azure::wire::JobResponse, String>>),
    /// A watched job's state; `rows` when the per-device results were read too.
    JobProgress {
        /// The job.
        job: Box<crate::azure::wire::JobResponse>,
        /// Every device's result, when read this time.
        rows: Option<Vec<crate::azure::wire::DeviceJob>>,
    },
    /// Watching a job failed for now (it keeps trying).
    JobWatchFailed {
        /// Which job.
        job_id: String,
        /// Why.
        message: String,
    },
    /// A cancel finished.
    JobCancelled(Result<Box<crate::azure::wire::JobResponse>, String>),
    /// A direct method finished.
    MethodDone {
        /// Device.
        device_id: Arc<str>,
        /// Method name.
        method_name: String,
        /// The device's answer, or the error.
        result: Result<crate::azure::wire::MethodResult, String>,
    },
    /// The CSV export finished: the path written, `None` when the dialog was cancelled, or why not.
    CsvExported(Result<Option<std::path::PathBuf>, String>),
    /// The enrollment lists, or why not.
    EnrollmentsLoaded(Result<super::enrollments::EnrollmentLists, String>),
    /// An enrollment save finished.
    EnrollmentSaved {
        /// Which enrollment.
        id: String,
        /// What happened.
        outcome: EnrollmentSaveOutcome,
    },
    /// A delete finished.
    EnrollmentDeleted {
        /// Which enrollment.
        id: String,
        /// Deleted, or why not.
        result: Result<(), String>,
    },
    /// A bulk policy change finished: per item `Ok` or why not.
    BulkPolicyDone(Result<super::enrollments::ItemResults, String>),
    /// Registration records of an enrollment or group.
    EnrollmentRecords {
        /// Which enrollment.
        id: String,
        /// The records, or why not.
        result: Result<Vec<crate::azure::wire::DeviceRegistrationState>, String>,
    },
    /// Keys read for copying.
    EnrollmentKeys {
        /// Which enrollment.
        id: String,
        /// Primary and secondary, or why not.
        result: Result<(Secret, Secret), String>,
    },
    /// A device was asked to register again.
    ReRegisterSent {
        /// Its registration id.
        registration_id: String,
        /// Accepted, or why not.
        result: Result<(), String>,
    },
    /// The enrollment a device registered through (`None`: none found).
    EnrollmentFound {
        /// The device.
        device_id: Arc<str>,
        /// Found, none, or why not.
        result: Result<Option<Box<super::enrollments::AnyEnrollment>>, String>,
    },
    /// Something from the HTTP client (a call finished, a retry wait started).
    Client(ClientEvent),
}
