//! The device list kept live while it is on screen: every [`LIVE_INTERVAL`] the rows in view get
//! their connection state, when it last changed and their last activity again, and — from
//! hubdeck's simulator only — how each real device is connected (protocol and client). A hub
//! that does not offer the simulator's route (a real hub answers 404) is remembered as such and
//! not asked again. Pure: the view says when the list is visible and which rows are in view.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::{Command, DeviceCommand, RequestId};
use super::error::AppError;
use crate::azure::wire::{ConnectionState, DeviceConnection, Timestamp};

/// How often the rows in view are refreshed while the list is visible.
pub const LIVE_INTERVAL: Duration = Duration::from_secs(4);
/// Most rows refreshed per poll (a tall window shows about 40).
pub const MAX_LIVE_ROWS: usize = 60;

/// Whether the hub reports its devices' live connections (`GET /hubdeck/connections`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectionsRoute {
    /// Not asked yet.
    #[default]
    Unknown,
    /// hubdeck's simulator: it answers.
    Offered,
    /// A real hub (404): never asked again for this hub.
    NotOffered,
}

/// A row in view, as a poll asks about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveProbe {
    /// Index of the row in `DevicesState::rows` (checked against the id on the way back).
    pub index: u32,
    /// The device.
    pub device_id: Arc<str>,
    /// The state whose change time the row already knows; the backend reads the identity (for
    /// `connectionStateUpdatedTime`, which twins and queries do not carry) only when the state
    /// differs from it.
    pub known: Option<ConnectionState>,
}

/// A row's connection as a poll found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveRow {
    /// Index of the row in `DevicesState::rows` when asked.
    pub index: u32,
    /// The device.
    pub device_id: Arc<str>,
    /// Connected or not.
    pub connection_state: ConnectionState,
    /// When the state last changed, when it was read this time.
    pub since: Option<Timestamp>,
    /// Last activity (`None`: never).
    pub last_activity: Option<Timestamp>,
}

/// What one poll brought back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveUpdate {
    /// The rows asked about that still exist (a deleted device is left out).
    pub rows: Vec<LiveRow>,
    /// Real device connections; `None` when not asked (or the hub does not offer the route, see
    /// `route`).
    pub connections: Option<Vec<DeviceConnection>>,
    /// What the hub said about the connections route, when asked.
    pub route: Option<ConnectionsRoute>,
}

/// The live part of the device page.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    /// Whether the hub reports connections.
    pub route: ConnectionsRoute,
    /// Real devices' connections by device id (from the simulator only).
    pub connections: HashMap<Arc<str>, DeviceConnection>,
    /// The poll in flight.
    pub in_flight: Option<RequestId>,
    /// When the last poll was sent.
    pub last_poll: Option<Instant>,
    /// Why the last poll failed (the values shown are kept).
    pub error: Option<AppError>,
}

impl LiveState {
    /// How long until the next poll is due (zero: now).
    pub fn due_in(&self, now: Instant) -> Duration {
        self.last_poll.map_or(Duration::ZERO, |last| (last + LIVE_INTERVAL).saturating_duration_since(now))
    }

    /// Sends a poll for `probes` if one is due and none is in flight; true when sent.
    pub fn poll(&mut self, now: Instant, probes: Vec<LiveProbe>, out: &mut Vec<Command>) -> bool {
        if self.in_flight.is_some() || !self.due_in(now).is_zero() {
            return false;
        }
        let connections = self.route != ConnectionsRoute::NotOffered;
        if probes.is_empty() && !connections {
            return false;
        }
        let request = RequestId::fresh();
        self.in_flight = Some(request);
        self.last_poll = Some(now);
        out.push(DeviceCommand::PollLive { request, probes, connections }.into());
        true
    }

    /// The answer to a poll; false (nothing changed) when it is not the poll in flight.
    pub fn finish(&mut self, request: RequestId) -> bool {
        if self.in_flight != Some(request) {
            return false;
        }
        self.in_flight = None;
        true
    }

    /// Applies the connections part of an answer.
    pub fn set_connections(&mut self, route: Option<ConnectionsRoute>, connections: Option<Vec<DeviceConnection>>) {
        if let Some(route) = route {
            self.route = route;
        }
        match connections {
            Some(list) => {
                self.connections = list.into_iter().map(|connection| (Arc::from(connection.device_id.as_str()), connection)).collect();
            }
            None if self.route == ConnectionsRoute::NotOffered => self.connections.clear(),
            None => {}
        }
    }

    /// The real connection of a device, if it has one.
    pub fn connection(&self, device_id: &str) -> Option<&DeviceConnection> {
        self.connections.get(device_id)
    }

    /// True when the protocol column has anything to show (the hub offers the route, or it
    /// was not asked yet).
    pub fn shows_protocol(&self) -> bool {
        self.route != ConnectionsRoute::NotOffered
    }
}

/// The client as a short name and version: `azure-iot-device-py/2.14.0` of
/// `azure-iot-device-py/2.14.0(Python 3.11.2;Linux;x86_64)` (the platform part dropped).
pub fn short_client(client_type: &str) -> &str {
    client_type.split('(').next().unwrap_or(client_type).trim()
}

/// The client as operators know it: `Python SDK 2.14.0`, `Node SDK 1.18.4`, `hubdeck device
/// 0.1.0`; other clients as their short name.
pub fn client_label(client_type: &str) -> String {
    let short = short_client(client_type);
    let Some((name, version)) = short.split_once('/') else {
        return short.to_owned();
    };
    let known = match name {
        "azure-iot-device-iothub-py" | "azure-iot-device-py" => "Python SDK",
        "azure-iot-device" => "Node SDK",
        "hubdeck-device" => "hubdeck device",
        "Microsoft.Azure.Devices.Client" => ".NET SDK",
        "com.microsoft.azure.sdk.iot.iot-device-client" => "Java SDK",
        "iothubclient" => "C SDK",
        _ => return short.to_owned(),
    };
    format!("{known} {}", version.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(index: u32, id: &str) -> LiveProbe {
        LiveProbe { index, device_id: Arc::from(id), known: None }
    }

    #[test]
    fn polls_once_per_interval_and_never_two_at_a_time() {
        let start = Instant::now();
        let mut live = LiveState::default();
        let mut out = Vec::new();
        assert!(live.poll(start, vec![probe(0, "d1")], &mut out), "the first poll goes at once");
        let Some(Command::Devices(DeviceCommand::PollLive { request, probes, connections })) = out.pop() else {
            panic!("a live poll");
        };
        assert_eq!(probes.len(), 1);
        assert!(connections, "the route is asked about while unknown");
        assert!(!live.poll(start + LIVE_INTERVAL * 2, vec![probe(0, "d1")], &mut out), "one in flight");
        assert!(live.finish(request));
        assert!(!live.finish(request), "answered once");
        assert_eq!(live.due_in(start + Duration::from_secs(1)), LIVE_INTERVAL.saturating_sub(Duration::from_secs(1)));
        assert!(!live.poll(start + Duration::from_secs(1), vec![probe(0, "d1")], &mut out), "not due yet");
        assert!(live.poll(start + LIVE_INTERVAL, vec![probe(0, "d1")], &mut out));
    }

    #[test]
    fn a_hub_without_the_route_is_not_asked_again() {
        let mut live = LiveState::default();
        live.set_connections(Some(ConnectionsRoute::NotOffered), None);
        assert!(!live.shows_protocol());
        let mut out = Vec::new();
        assert!(!live.poll(Instant::now(), Vec::new(), &mut out), "nothing to ask");
        assert!(live.poll(Instant::now(), vec![probe(3, "d3")], &mut out));
        assert!(matches!(&out[0], Command::Devices(DeviceCommand::PollLive { connections: false, .. })));
    }

    #[test]
    fn clients_are_shortened_to_name_and_version() {
        assert_eq!(short_client("azure-iot-device-iothub-py/2.14.0(3.11.2;Linux 6.1;x86_64)"), "azure-iot-device-iothub-py/2.14.0");
        assert_eq!(short_client("azure-iot-device/1.18.4 (node v20.11.0; Linux 6.1; x64)"), "azure-iot-device/1.18.4");
        assert_eq!(client_label("azure-iot-device-iothub-py/2.14.0(3.11.2;Linux 6.1;x86_64)"), "Python SDK 2.14.0");
        assert_eq!(client_label("azure-iot-device/1.18.4 (node v20.11.0; Linux 6.1; x64)"), "Node SDK 1.18.4");
        assert_eq!(client_label("hubdeck-device/0.1.0"), "hubdeck device 0.1.0");
        assert_eq!(client_label("my-gateway/3 (custom)"), "my-gateway/3");
        assert_eq!(client_label(""), "");
    }
}
