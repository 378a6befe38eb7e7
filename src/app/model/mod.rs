//! The console's model: state, commands, events and the reducer (one exhaustive `apply_*` per
//! feature). No egui types and no I/O; the time comes in as a [`Now`].

/// `From<FeatureEvent> for Event` (and the same for commands): a feature's variant wraps into
/// the top-level enum with `.into()`.
macro_rules! wrap_feature {
    ($outer:ident: $($feature:ident => $variant:ident),* $(,)?) => {
        $(impl From<$feature> for $outer {
            fn from(inner: $feature) -> Self {
                Self::$variant(inner)
            }
        })*
    };
}

pub mod activity;
pub mod clock;
pub mod command;
pub mod connect_device;
mod device_events;
pub mod device_row;
pub mod devices;
mod dps_events;
pub mod enrollment_editor;
pub mod enrollments;
pub mod error;
pub mod event;
pub mod job_draft;
mod job_events;
pub mod jobs;
pub mod live;
pub mod loadable;
pub mod method_call;
pub mod pending;
pub mod profile;
mod profile_events;
pub mod query_plan;
pub mod reprovision_choice;
pub mod rollout;
pub mod selection;
pub mod state;
pub mod twin;
mod twin_events;

#[cfg(test)]
mod tests;

pub use clock::Now;
pub use command::{Command, DeleteTarget, DeviceCommand, DpsCommand, JobCommand, ProfileCommand, RequestId, TwinCommand};
pub use device_row::{DeviceRow, FieldPath, FieldValue};
pub use devices::{DevicesState, LoadEnd, SortColumn};
pub use enrollments::{AnyEnrollment, EnrollmentKind, EnrollmentsState};
pub use error::AppError;
pub use event::{
    Connected, ConnectionEvent, DeviceEvent, DpsEvent, EnrollmentSaveOutcome, Event, HubRef, JobEvent, KeyringStatus, ProfileEvent,
    TwinEvent, TwinSaveOutcome,
};
pub use loadable::Loadable;
pub use pending::Pending;
pub use profile::{ProfileDraft, ProfileId, ProfileKind, ProfileSummary, SecretPlacement};
pub use state::{AppState, ConnectionStatus, Notice, NoticeLevel, Page};
