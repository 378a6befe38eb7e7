//! The embedded simulator of the IoT Hub service REST API: HTTPS server, SAS auth, device
//! registry, twins, the query language, persistence, a demo fleet and fault injection.
//!
//! Uses `azure`'s wire types and SAS primitives; never touches `app`.

pub mod clock;
pub mod error;
pub mod prop_tree;
pub mod query;
pub mod record;
pub mod registry;

pub use error::{HubError, SimError};
