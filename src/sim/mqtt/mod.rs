//! The simulator's MQTT device endpoint: what the official device SDKs speak to IoT Hub and DPS.
//!
//! - `topic.rs`: the device-side topics, parsed from untrusted text and built;
//! - `connect.rs`: who a CONNECT claims to be, and the device SAS check;
//! - `session.rs`: one connection from CONNECT to close (twin, methods, telemetry,
//!   cloud-to-device; DPS registrations in `registration.rs`), over TLS (`listener.rs`) or a WebSocket
//!   (`websocket.rs`, on the hub's HTTPS listener);
//! - `connections.rs`: the hub's live device connections and their pending method calls;
//! - `desired_patch.rs`: what a desired-property push carries.

pub mod connect;
pub mod connections;
pub mod desired_patch;
pub mod listener;
mod registration;
pub mod session;
pub mod topic;
pub mod websocket;
