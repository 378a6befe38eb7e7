//! The simulator's MQTT device endpoint. So far: the IoT Hub and DPS topic names a device uses,
//! parsed and built (`topic.rs`); the listener and sessions come with the device endpoint.

pub mod topic;
