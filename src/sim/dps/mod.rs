//! The simulated Device Provisioning Service: its enrollment lists and registration records
//! (`service.rs`, persisted in `dps.json`), the service and device HTTP APIs (`http.rs`, routed
//! by `route.rs`), the registration engine (`register.rs`) with allocation (`allocation.rs`,
//! custom allocation in `webhook.rs`), the re-provisioning decision (`reprovision.rs`) and its
//! effects on the simulated hubs (`hub_writes.rs`), device authentication (`device_auth.rs`) and
//! the demo enrollments (`seed.rs`), and the rate limits with the fleet's retry counters
//! (`throttles.rs`).

pub mod allocation;
pub mod device_auth;
pub mod enrollments;
pub mod error;
pub mod http;
pub mod hub_writes;
pub mod register;
pub mod reprovision;
pub mod route;
pub mod seed;
pub mod service;
pub mod throttles;
pub mod webhook;

pub use error::DpsError;
pub use service::{Dps, DpsConfig, DpsHub, DpsState, RegistrationRecord};
