//! A device's live connection as the simulator reports it. Real hubs do not expose how a device
//! is connected over REST (only `connectionState`); hubdeck's simulator does, on its own route
//! `GET /hubdeck/connections`, so the console can show the protocol and client of real device
//! code connected to it.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// The simulator's own route listing live device connections (a bare JSON array of
/// [`DeviceConnection`], service policies with `RegistryRead` or `ServiceConnect`).
pub const DEVICE_CONNECTIONS_PATH: &str = "/hubdeck/connections";

/// How a device is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeviceProtocol {
    /// MQTT 3.1.1 over TLS (port 8883).
    #[serde(rename = "mqtt")]
    Mqtt,
    /// MQTT over a secure WebSocket (`/$iothub/websocket` on 443).
    #[serde(rename = "mqttWs")]
    MqttWebSocket,
}

impl DeviceProtocol {
    /// The name operators know (`MQTT`, `MQTT over WebSocket`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Mqtt => "MQTT",
            Self::MqttWebSocket => "MQTT over WebSocket",
        }
    }
}

/// One live connection of a real device (not the simulated fleet's apps).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceConnection {
    /// The connected device.
    pub device_id: String,
    /// How it is connected.
    pub protocol: DeviceProtocol,
    /// The client as the device names it in its MQTT username (`DeviceClientType`, decoded),
    /// e.g. `azure-iot-device-py/2.14.0 (…)`; empty when it sent none.
    #[serde(default)]
    pub client_type: String,
    /// The api-version from the MQTT username.
    #[serde(default)]
    pub api_version: String,
    /// When this connection was accepted.
    pub connected_since: Timestamp,
}
