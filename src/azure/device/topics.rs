//! The MQTT topics of IoT Hub's and DPS's device side, from the device's end: the topics it
//! publishes to and subscribes to, built, and the topics the service publishes to it, read.
//! (The simulator has its own copy for the other end; `azure` does not depend on `sim`.)

use percent_encoding::percent_decode_str;

use super::super::sas::encode_component;

/// Direct method calls.
pub const METHODS_FILTER: &str = "$iothub/methods/POST/#";
/// Answers to this connection's twin requests.
pub const TWIN_RESPONSES_FILTER: &str = "$iothub/twin/res/#";
/// Desired-property changes.
pub const DESIRED_FILTER: &str = "$iothub/twin/PATCH/properties/desired/#";
/// Answers to this connection's DPS requests.
pub const DPS_RESPONSES_FILTER: &str = "$dps/registrations/res/#";

/// `devices/{id}/messages/devicebound/#`: cloud-to-device messages.
pub fn cloud_to_device_filter(device_id: &str) -> String {
    format!("devices/{device_id}/messages/devicebound/#")
}

/// `$iothub/twin/GET/?$rid=…`.
pub fn twin_get(rid: &str) -> String {
    format!("$iothub/twin/GET/?$rid={}", encode_component(rid))
}

/// `$iothub/twin/PATCH/properties/reported/?$rid=…`.
pub fn twin_patch_reported(rid: &str) -> String {
    format!("$iothub/twin/PATCH/properties/reported/?$rid={}", encode_component(rid))
}

/// `$iothub/methods/res/{status}/?$rid=…`.
pub fn method_response(status: u16, rid: &str) -> String {
    format!("$iothub/methods/res/{status}/?$rid={}", encode_component(rid))
}

/// `devices/{id}/messages/events/{bag}`: system properties (`$.ct`, …) first, then application
/// properties, names and values percent-encoded as the SDKs send them (`%24.ct=application%2Fjson`).
pub fn telemetry(device_id: &str, system: &[(&str, &str)], application: &[(&str, &str)]) -> String {
    let bag = system
        .iter()
        .chain(application)
        .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
        .collect::<Vec<_>>()
        .join("&");
    format!("devices/{device_id}/messages/events/{bag}")
}

/// `$dps/registrations/PUT/iotdps-register/?$rid=…`.
pub fn dps_register(rid: &str) -> String {
    format!("$dps/registrations/PUT/iotdps-register/?$rid={}", encode_component(rid))
}

/// `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=…&operationId=…`.
pub fn dps_operation_status(rid: &str, operation_id: &str) -> String {
    format!(
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid={}&operationId={}",
        encode_component(rid),
        encode_component(operation_id)
    )
}

/// What the service published to the device, by topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// `$iothub/methods/POST/{name}/?$rid=…`.
    MethodCall {
        /// The method's name.
        name: String,
        /// The id the answer must echo.
        rid: String,
    },
    /// `$iothub/twin/res/{status}/?$rid=…[&$version=…]`.
    TwinResponse {
        /// The service's status (200, 204, 400, 429, …).
        status: u16,
        /// The request answered.
        rid: String,
        /// The reported section's new version (after a PATCH).
        version: Option<u64>,
    },
    /// `$iothub/twin/PATCH/properties/desired/?$version=…`.
    DesiredPatch {
        /// The desired section's version.
        version: Option<u64>,
    },
    /// `devices/{id}/messages/devicebound/{bag}`.
    CloudToDevice {
        /// The property bag, decoded, in the order sent (`$.`-names are system properties).
        properties: Vec<(String, String)>,
    },
    /// `$dps/registrations/res/{status}/?$rid=…[&retry-after=…]`.
    DpsResponse {
        /// The service's status.
        status: u16,
        /// The request answered.
        rid: String,
        /// `retry-after` in seconds, when the service said how long to wait.
        retry_after_secs: Option<u64>,
    },
    /// Anything else (ignored, with the topic for the log).
    Unknown(String),
}

impl Inbound {
    /// The request id of a response, for matching it to its request.
    pub fn response_rid(&self) -> Option<&str> {
        match self {
            Self::TwinResponse { rid, .. } | Self::DpsResponse { rid, .. } => Some(rid),
            _ => None,
        }
    }
}

/// Reads a topic the service published to `device_id`'s connection.
pub fn parse_inbound(topic: &str, device_id: &str) -> Inbound {
    let unknown = || Inbound::Unknown(topic.to_owned());
    let (path, query) = topic.split_once('?').unwrap_or((topic, ""));
    let path = path.trim_end_matches('/');
    if let Some(name) = path.strip_prefix("$iothub/methods/POST/") {
        return match query_value(query, "$rid") {
            Some(rid) if !name.is_empty() => Inbound::MethodCall { name: decode(name), rid },
            _ => unknown(),
        };
    }
    if let Some(status) = path.strip_prefix("$iothub/twin/res/") {
        return match (status.parse(), query_value(query, "$rid")) {
            (Ok(status), Some(rid)) => {
                Inbound::TwinResponse { status, rid, version: query_value(query, "$version").and_then(|version| version.parse().ok()) }
            }
            _ => unknown(),
        };
    }
    if path == "$iothub/twin/PATCH/properties/desired" {
        return Inbound::DesiredPatch { version: query_value(query, "$version").and_then(|version| version.parse().ok()) };
    }
    if let Some(status) = path.strip_prefix("$dps/registrations/res/") {
        return match (status.parse(), query_value(query, "$rid")) {
            (Ok(status), Some(rid)) => {
                Inbound::DpsResponse { status, rid, retry_after_secs: query_value(query, "retry-after").and_then(|secs| secs.parse().ok()) }
            }
            _ => unknown(),
        };
    }
    let c2d_prefix = format!("devices/{device_id}/messages/devicebound");
    if let Some(bag) = topic.strip_prefix(&c2d_prefix) {
        let bag = bag.strip_prefix('/').unwrap_or(bag);
        let properties = bag
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        return Inbound::CloudToDevice { properties };
    }
    unknown()
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn query_value(query: &str, wanted: &str) -> Option<String> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(name, _)| decode(name) == wanted).map(|(_, value)| decode(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_topics_a_device_publishes() {
        assert_eq!(twin_get("1"), "$iothub/twin/GET/?$rid=1");
        assert_eq!(twin_patch_reported("2"), "$iothub/twin/PATCH/properties/reported/?$rid=2");
        assert_eq!(method_response(200, "7"), "$iothub/methods/res/200/?$rid=7");
        assert_eq!(
            telemetry("door-1", &[("$.ct", "application/json"), ("$.ce", "utf-8")], &[("alert", "false"), ("room", "3/12")]),
            "devices/door-1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&alert=false&room=3%2F12"
        );
        assert_eq!(telemetry("d", &[], &[]), "devices/d/messages/events/");
        assert_eq!(cloud_to_device_filter("d"), "devices/d/messages/devicebound/#");
        assert_eq!(dps_register("u1"), "$dps/registrations/PUT/iotdps-register/?$rid=u1");
        assert_eq!(dps_operation_status("u2", "4.abc"), "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=u2&operationId=4.abc");
    }

    #[test]
    fn reads_what_the_service_publishes() {
        assert_eq!(
            parse_inbound("$iothub/methods/POST/lockDoor/?$rid=12", "d"),
            Inbound::MethodCall { name: "lockDoor".into(), rid: "12".into() }
        );
        assert_eq!(
            parse_inbound("$iothub/twin/res/204/?$rid=r1&$version=5", "d"),
            Inbound::TwinResponse { status: 204, rid: "r1".into(), version: Some(5) }
        );
        assert_eq!(
            parse_inbound("$iothub/twin/res/200/?$rid=r2", "d"),
            Inbound::TwinResponse { status: 200, rid: "r2".into(), version: None }
        );
        assert_eq!(parse_inbound("$iothub/twin/PATCH/properties/desired/?$version=9", "d"), Inbound::DesiredPatch { version: Some(9) });
        assert_eq!(
            parse_inbound("$dps/registrations/res/202/?$rid=u1&retry-after=3", "reg"),
            Inbound::DpsResponse { status: 202, rid: "u1".into(), retry_after_secs: Some(3) }
        );
        assert_eq!(
            parse_inbound("devices/d/messages/devicebound/%24.mid=m%201&%24.to=%2Fdevices%2Fd%2Fmessages%2FdeviceBound&room=3%2F12", "d"),
            Inbound::CloudToDevice {
                properties: vec![
                    ("$.mid".into(), "m 1".into()),
                    ("$.to".into(), "/devices/d/messages/deviceBound".into()),
                    ("room".into(), "3/12".into())
                ]
            }
        );
        assert_eq!(parse_inbound("devices/d/messages/devicebound", "d"), Inbound::CloudToDevice { properties: vec![] });
        for unknown in [
            "",
            "$iothub/methods/POST/x",
            "$iothub/twin/res/abc/?$rid=1",
            "devices/other/messages/devicebound/",
            "$dps/registrations/res/200/",
        ] {
            assert!(matches!(parse_inbound(unknown, "d"), Inbound::Unknown(_)), "{unknown}");
        }
    }
}
