//! The embedded simulator of the `IoT` Hub service REST API: HTTPS server, SAS auth, device
//! registry, twins, the query language, persistence, a demo fleet and fault injection.
//!
//! Uses `azure`'s wire types and SAS primitives; never touches `app`.

pub mod auth;
pub mod c2d;
pub mod clock;
pub mod config;
pub mod d2c_log;
pub mod device_app;
pub mod dps;
pub mod error;
pub mod faults;
pub mod fleet;
pub mod http;
pub mod hub;
pub mod hub_quotas;
pub mod jobs;
pub(crate) mod listener;
pub mod message_meter;
pub mod methods;
pub mod mqtt;
pub mod precondition;
pub mod prop_tree;
pub mod query;
pub mod ready_file;
pub mod record;
pub mod registry;
pub mod seed;
pub mod server;
mod state_dir;
pub mod store;
mod text;
pub mod throttle;
/// Hub tiers live with the service's other rules in `azure`; the simulator enforces them.
pub use crate::azure::tier;
pub mod tls;
pub mod twin_json;

pub use config::{SimConfig, StateLocation, default_state_dir};
pub use error::{HubError, SimError};
pub use faults::{Fault, FaultConfig};
pub use fleet::FleetConfig;
pub use precondition::Precondition;
pub use ready_file::{DpsInfo, HubInfo, ReadyInfo};
pub use server::{HUBS, Simulator};
