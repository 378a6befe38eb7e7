//! The console's model: state, commands, events and the reducer. No egui types and no I/O.

pub mod activity;
pub mod command;
pub mod device_row;
pub mod devices;
mod dps_events;
pub mod enrollment_editor;
pub mod enrollments;
pub mod event;
pub mod job_draft;
pub mod jobs;
pub mod method_call;
pub mod profile;
pub mod query_plan;
pub mod reprovision_choice;
pub mod selection;
pub mod state;
pub mod twin;

#[cfg(test)]
mod tests;

pub use command::{Command, DeleteTarget, RequestId};
pub use device_row::{DeviceRow, FieldPath, FieldValue};
pub use devices::{DevicesState, LoadState, SortColumn};
pub use enrollments::{AnyEnrollment, EnrollmentKind, EnrollmentsState};
pub use event::{EnrollmentSaveOutcome, Event, HubRef, KeyringStatus, TwinSaveOutcome};
pub use profile::{ProfileDraft, ProfileId, ProfileKind, ProfileSummary, SecretPlacement};
pub use state::{AppState, ConnectionStatus, Notice, NoticeLevel, Page};
