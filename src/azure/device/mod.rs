//! The device side of IoT Hub and DPS over MQTT: what `hubdeck device` is built from. A device
//! connection string, the usernames and SAS passwords the SDKs send, the topics, one MQTT
//! connection (TLS or WebSocket), the hub client (twin, methods, telemetry, cloud-to-device),
//! DPS registration, the retry rules, the door-lock device app and the fleet runner.

pub mod client;
pub mod connection_string;
pub mod credentials;
pub mod door_app;
pub mod error;
pub mod fleet;
pub mod provisioning;
pub mod reconnect;
pub mod runner;
pub mod session;
pub mod topics;
pub mod transport;

pub use client::{DeviceClient, DeviceMessage, HubIdentity};
pub use connection_string::{DeviceConnectionString, DeviceConnectionStringError};
pub use error::{ConnectFailure, DeviceError};
pub use provisioning::{Assignment, ProvisioningSettings};
pub use reconnect::ReconnectPolicy;
pub use transport::{TransportSettings, tls_config};
