//! hubdeck: a desktop console for Azure `IoT` Hub and the Device Provisioning Service, with an
//! embedded simulator of their service REST APIs.
//!
//! - [`azure`]: REST clients and wire types (no UI).
//! - [`sim`]: the simulator (uses `azure`'s wire types, never `app`).
//! - [`app`]: the egui console.

pub mod app;
pub mod azure;
pub mod sim;
