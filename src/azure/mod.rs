//! The Azure side: REST clients for the `IoT` Hub and DPS service APIs and their wire types.
//!
//! No egui and no simulator here: `app` drives these clients, `sim` reuses the wire types and
//! the SAS primitives.

pub mod connection_string;
pub mod device;
pub mod dps;
pub mod error;
pub mod events;
pub mod hub;
pub mod id_rules;
pub mod pipeline;
pub mod retry;
pub mod sas;
pub mod secret;
pub mod tier;
pub mod twin_rules;
pub mod wire;

pub use connection_string::{ConnectionStringError, ServiceConnectionString, ServiceKind};
pub use dps::{BulkMode, DPS_API_VERSION, DpsClient};
pub use error::{AzureError, ServiceError};
pub use events::{CallOutcome, CallRecord, ClientEvent, EventSink, RetryNotice, RetryReason, SharedEventSink};
pub use hub::{HUB_API_VERSION, HubClient};
pub use pipeline::{ClientOptions, IfMatch, ProxySetting};
pub use retry::RetryPolicy;
pub use secret::Secret;
