//! hubdeck: a desktop console for Azure `IoT` Hub and the Device Provisioning Service, with an
//! embedded simulator of their service REST APIs.
//!
//! - [`azure`]: REST clients and wire types (no UI).
//! - [`sim`]: the simulator (uses `azure`'s wire types, never `app`).
//! - [`app`]: the egui console.
//! - [`files`]: crash-safe file writes shared by the console's profile store and the simulator's
//!   state directory.

pub mod app;
pub mod azure;
pub mod files;
pub mod sim;
