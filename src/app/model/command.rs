//! Commands: what the UI asks the backend to do, grouped by feature. Plain data; views push
//! them, the app glue sends them on a bounded channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::enrollments::{AnyEnrollment, EnrollmentKind};
use super::live::LiveProbe;
use super::profile::{ProfileDraft, ProfileId};
use crate::azure::secret::Secret;
use crate::azure::wire::{CloudToDeviceMethod, JobRequest};

/// Identifies one load (device list, details, twin, job list, enrollment lists): the answer
/// echoes it, and the reducer drops answers to any load but the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// An id never handed out before in this process. Ids are global rather than per state so
    /// that an editor, hub or profile opened anew never reuses the id a late answer still carries.
    pub fn fresh() -> Self {
        static LAST: AtomicU64 = AtomicU64::new(0);
        Self(LAST.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// A device to delete, with the etag it had when listed (so a concurrent change is not lost).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTarget {
    /// The device to delete.
    pub device_id: Arc<str>,
    /// Identity etag as listed.
    pub etag: Option<Arc<str>>,
}

/// UI → backend, one variant per feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Profiles, hubs and the CA-file picker.
    Profiles(ProfileCommand),
    /// The device list, details and device actions.
    Devices(DeviceCommand),
    /// The twin editor.
    Twin(TwinCommand),
    /// Jobs, direct methods and the CSV export.
    Jobs(JobCommand),
    /// DPS enrollments and registrations.
    Dps(DpsCommand),
}

impl Command {
    /// The request id the command carries: every load and every action has one, and its
    /// answer echoes it. Commands that get no answer of their own have none.
    pub fn request(&self) -> Option<RequestId> {
        match self {
            Self::Profiles(
                ProfileCommand::Activate(_)
                | ProfileCommand::Save(_)
                | ProfileCommand::Delete(_)
                | ProfileCommand::Edit(_)
                | ProfileCommand::SwitchHub(_)
                | ProfileCommand::PickCaFile,
            )
            | Self::Devices(DeviceCommand::CancelLoad(_))
            | Self::Jobs(JobCommand::StopWatching) => None,
            Self::Devices(
                DeviceCommand::Load { request, .. }
                | DeviceCommand::Create { request, .. }
                | DeviceCommand::SetEnabled { request, .. }
                | DeviceCommand::Delete { request, .. }
                | DeviceCommand::LoadDetails { request, .. }
                | DeviceCommand::CopyConnectionString { request, .. }
                | DeviceCommand::PollLive { request, .. }
                | DeviceCommand::LoadCredential { request, .. },
            )
            | Self::Twin(TwinCommand::Load { request, .. } | TwinCommand::Save { request, .. })
            | Self::Jobs(
                JobCommand::LoadList { request }
                | JobCommand::PreviewTargets { request, .. }
                | JobCommand::Watch { request, .. }
                | JobCommand::Create { request, .. }
                | JobCommand::Cancel { request, .. }
                | JobCommand::InvokeMethod { request, .. }
                | JobCommand::ExportCsv { request, .. },
            )
            | Self::Dps(
                DpsCommand::LoadEnrollments { request }
                | DpsCommand::Save { request, .. }
                | DpsCommand::Delete { request, .. }
                | DpsCommand::BulkSetPolicy { request, .. }
                | DpsCommand::LoadRecords { request, .. }
                | DpsCommand::LoadKeys { request, .. }
                | DpsCommand::ReRegister { request, .. }
                | DpsCommand::FindEnrollment { request, .. },
            ) => Some(*request),
        }
    }
}

/// Profile and connection commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileCommand {
    /// Connect with another profile.
    Activate(ProfileId),
    /// Create or update a profile (secrets go to the secret store).
    Save(ProfileDraft),
    /// Remove a saved profile and its secrets.
    Delete(ProfileId),
    /// Fetch a saved profile's connection strings into the edit form.
    Edit(ProfileId),
    /// Show another of the profile's hubs in the device list (and the twin editor).
    SwitchHub(String),
    /// Ask for a CA certificate file through the file dialog (off the UI thread).
    PickCaFile,
}

/// Device list and device action commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceCommand {
    /// Load devices: pages of `query`, plus `count_query` for the total.
    Load {
        /// This load; its pages echo it.
        request: RequestId,
        /// Query paged through.
        query: String,
        /// `SELECT COUNT()` for the total, when the rows are twins.
        count_query: Option<String>,
        /// True when rows are twins (device table), false for raw rows.
        returns_twins: bool,
    },
    /// Stop a load.
    CancelLoad(RequestId),
    /// Register a device; `None` keys are generated by the service.
    Create {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The new device's id.
        device_id: String,
        /// Primary and secondary key, or generated.
        keys: Option<(Secret, Secret)>,
    },
    /// Enable or disable devices (each read, then written with its etag).
    SetEnabled {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The devices to change.
        device_ids: Vec<Arc<str>>,
        /// Enable (true) or disable.
        enabled: bool,
    },
    /// Delete devices (one etag-checked DELETE, or bulk calls of up to 100).
    Delete {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The devices, with the etags they were listed with.
        targets: Vec<DeleteTarget>,
    },
    /// Identity (with keys) and twin of one device, for the details panel.
    LoadDetails {
        /// This load; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
    },
    /// Build a device connection string (needs the device's key) for the clipboard.
    CopyConnectionString {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
    },
    /// Read the connection state of the rows in view again, and real devices' connections.
    PollLive {
        /// This poll; the answer echoes it.
        request: RequestId,
        /// The rows in view.
        probes: Vec<LiveProbe>,
        /// Ask the simulator's connections route too (not once a hub answered 404).
        connections: bool,
    },
    /// Read a device's key for "Connect a device…".
    LoadCredential {
        /// This load; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
    },
}

/// Twin editor commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwinCommand {
    /// Fetch a device's twin for the editor.
    Load {
        /// This load; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// A poll while the editor is open (not the first load).
        refresh: bool,
    },
    /// Send a twin merge patch with `If-Match`.
    Save {
        /// This save; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// The etag the draft is based on (`None`: `*`).
        etag: Option<String>,
        /// The merge patch (only changed keys, deletions as `null`).
        patch: serde_json::Value,
    },
}

/// Jobs page, direct method and export commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobCommand {
    /// List jobs (all types and statuses; the page filters).
    LoadList {
        /// This load; the answer echoes it.
        request: RequestId,
    },
    /// Count and sample the devices a job condition selects.
    PreviewTargets {
        /// This load; the answer echoes it.
        request: RequestId,
        /// The condition (`*` for all).
        condition: String,
    },
    /// Create jobs (one, or several parts of a split device list).
    Create {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The jobs to create, in order.
        jobs: Vec<JobRequest>,
    },
    /// Stream a job's progress and per-device results until it ends (replaces any other watch).
    Watch {
        /// This watch; every update echoes it, so updates of an earlier watch are dropped.
        request: RequestId,
        /// The job to watch.
        job_id: String,
    },
    /// Stop streaming.
    StopWatching,
    /// Cancel a job.
    Cancel {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The job to cancel.
        job_id: String,
    },
    /// Invoke a direct method on one device.
    InvokeMethod {
        /// This call; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
        /// Method, payload, timeouts.
        method: CloudToDeviceMethod,
    },
    /// Save text through the save dialog (off the UI thread).
    ExportCsv {
        /// This export; the answer echoes it.
        request: RequestId,
        /// Suggested file name.
        file_name: String,
        /// The CSV text to write.
        text: String,
    },
}

/// DPS commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DpsCommand {
    /// Load the enrollment lists (individual and groups).
    LoadEnrollments {
        /// This load; the answer echoes it.
        request: RequestId,
    },
    /// Save one enrollment or group with `If-Match` (`None`: create).
    Save {
        /// This save; the answer echoes it.
        request: RequestId,
        /// The enrollment as it should be.
        item: Box<AnyEnrollment>,
        /// The etag it was loaded with.
        etag: Option<String>,
    },
    /// Delete an enrollment or group with `If-Match` (its registration records stay).
    Delete {
        /// This action; the answer echoes it.
        request: RequestId,
        /// Individual or group.
        kind: EnrollmentKind,
        /// Registration or group id.
        id: String,
        /// The etag it was opened with.
        etag: Option<String>,
    },
    /// Set one policy on several enrollments of one kind (bulk `updateIfMatchETag`).
    BulkSetPolicy {
        /// This action; the answer echoes it.
        request: RequestId,
        /// The enrollments as they should be, with the etags they were listed with.
        items: Vec<AnyEnrollment>,
    },
    /// Read the registration records of an enrollment (its one device) or group (its devices).
    LoadRecords {
        /// This load; the answer echoes it.
        request: RequestId,
        /// Individual or group.
        kind: EnrollmentKind,
        /// Registration or group id.
        id: String,
    },
    /// Read an enrollment's keys (the attestation call) for copying.
    LoadKeys {
        /// This load; the answer echoes it.
        request: RequestId,
        /// Individual or group.
        kind: EnrollmentKind,
        /// Registration or group id.
        id: String,
    },
    /// Ask a device to register with DPS again (direct method `reprovision` on its hub).
    ReRegister {
        /// This action; the answer echoes it.
        request: RequestId,
        /// Name of the hub it is on.
        hub: String,
        /// The device.
        device_id: Arc<str>,
        /// Its registration id (echoed in the answer).
        registration_id: String,
    },
    /// Find the enrollment a device registered through.
    FindEnrollment {
        /// This lookup; the answer echoes it.
        request: RequestId,
        /// The device.
        device_id: Arc<str>,
    },
}

wrap_feature!(Command:
    ProfileCommand => Profiles,
    DeviceCommand => Devices,
    TwinCommand => Twin,
    JobCommand => Jobs,
    DpsCommand => Dps,
);
