//! The MQTT topic names of IoT Hub's and DPS's device side, as the official device SDKs use them:
//! what a device may publish and subscribe to, parsed from untrusted text into typed requests, and
//! the topics the service publishes to a device, built. A device may only use its own topics;
//! anything else is refused with the reason.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use thiserror::Error;

/// Characters escaped in a property bag: everything but unreserved URL characters.
const BAG_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Why a topic or topic filter is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TopicError {
    /// The topic names another device.
    #[error("topic '{topic}' belongs to another device than '{device_id}'")]
    OtherDevice {
        /// The topic as received.
        topic: String,
        /// The device of this connection.
        device_id: String,
    },
    /// Not a topic IoT Hub or DPS serves.
    #[error("topic '{0}' is not one IoT Hub or DPS serves")]
    Unknown(String),
    /// A request topic without its `$rid`.
    #[error("topic '{0}' has no $rid")]
    MissingRequestId(String),
    /// A method response whose status is not a number from 100 to 999.
    #[error("method response status '{0}' is not a number from 100 to 999")]
    BadStatus(String),
    /// A DPS status request without its `operationId`.
    #[error("topic '{0}' has no operationId")]
    MissingOperationId(String),
    /// A property bag that is not `key=value&…` with valid percent-encoded UTF-8.
    #[error("property bag '{bag}' is not valid: {problem}")]
    BadPropertyBag {
        /// The bag as received.
        bag: String,
        /// What is wrong.
        problem: String,
    },
}

/// The properties a device-to-cloud or cloud-to-device message carries in its topic: system
/// properties (`$.mid`, `$.ct`, `$.ce`, …, kept with their `$.` names) and application
/// properties, in the order sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageProperties {
    /// System properties by name (`$.mid` → message id).
    pub system: BTreeMap<String, String>,
    /// Application properties, in the order sent.
    pub application: Vec<(String, String)>,
}

/// What a device publishes, by topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevicePublish {
    /// `devices/{id}/messages/events/{bag}`: telemetry.
    Telemetry(MessageProperties),
    /// `$iothub/twin/GET/?$rid=…`: read the twin.
    TwinGet {
        /// The request id the answer echoes.
        rid: String,
    },
    /// `$iothub/twin/PATCH/properties/reported/?$rid=…`: patch reported properties.
    TwinPatchReported {
        /// The request id the answer echoes.
        rid: String,
    },
    /// `$iothub/methods/res/{status}/?$rid=…`: the device's answer to a direct method.
    MethodResponse {
        /// The status the device answered with.
        status: u16,
        /// The request id of the method call.
        rid: String,
    },
    /// `$dps/registrations/PUT/iotdps-register/?$rid=…`: register through DPS.
    DpsRegister {
        /// The request id the answer echoes.
        rid: String,
    },
    /// `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=…&operationId=…`: poll.
    DpsOperationStatus {
        /// The request id the answer echoes.
        rid: String,
        /// The registration operation asked about.
        operation_id: String,
    },
}

/// What a device subscribes to, by topic filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// `$iothub/methods/POST/#`: direct method calls.
    Methods,
    /// `$iothub/twin/res/#`: answers to twin requests (this connection's only).
    TwinResponses,
    /// `$iothub/twin/PATCH/properties/desired/#`: desired-property changes.
    DesiredPatches,
    /// `devices/{id}/messages/devicebound/#`: cloud-to-device messages.
    CloudToDevice,
    /// `$dps/registrations/res/#`: answers to DPS requests (this connection's only).
    DpsResponses,
}

/// Reads a topic `device_id`'s connection published to.
pub fn parse_device_publish(topic: &str, device_id: &str) -> Result<DevicePublish, TopicError> {
    if let Some(rest) = topic.strip_prefix("devices/") {
        let (owner, rest) = rest.split_once('/').ok_or_else(|| TopicError::Unknown(topic.to_owned()))?;
        let bag = rest.strip_prefix("messages/events").ok_or_else(|| TopicError::Unknown(topic.to_owned()))?;
        check_owner(topic, owner, device_id)?;
        let bag = match bag {
            "" => "",
            bag => bag.strip_prefix('/').ok_or_else(|| TopicError::Unknown(topic.to_owned()))?,
        };
        return parse_property_bag(bag).map(DevicePublish::Telemetry);
    }
    let (path, query) = split_query(topic);
    let path = path.trim_end_matches('/');
    let rid = || request_id(topic, query);
    match path {
        "$iothub/twin/GET" => Ok(DevicePublish::TwinGet { rid: rid()? }),
        "$iothub/twin/PATCH/properties/reported" => Ok(DevicePublish::TwinPatchReported { rid: rid()? }),
        "$dps/registrations/PUT/iotdps-register" => Ok(DevicePublish::DpsRegister { rid: rid()? }),
        "$dps/registrations/GET/iotdps-get-operationstatus" => {
            let operation_id = query_value(query, "operationId")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| TopicError::MissingOperationId(topic.to_owned()))?;
            Ok(DevicePublish::DpsOperationStatus { rid: rid()?, operation_id })
        }
        _ => match path.strip_prefix("$iothub/methods/res/") {
            Some(status_text) => {
                let status = status_text
                    .parse::<u16>()
                    .ok()
                    .filter(|status| (100..=999).contains(status))
                    .ok_or_else(|| TopicError::BadStatus(status_text.to_owned()))?;
                Ok(DevicePublish::MethodResponse { status, rid: rid()? })
            }
            None => Err(TopicError::Unknown(topic.to_owned())),
        },
    }
}

/// Reads a topic filter `device_id`'s connection subscribed to.
pub fn parse_subscription(filter: &str, device_id: &str) -> Result<Subscription, TopicError> {
    match filter {
        "$iothub/methods/POST/#" => Ok(Subscription::Methods),
        "$iothub/twin/res/#" => Ok(Subscription::TwinResponses),
        "$iothub/twin/PATCH/properties/desired/#" => Ok(Subscription::DesiredPatches),
        "$dps/registrations/res/#" => Ok(Subscription::DpsResponses),
        _ => {
            let owner = filter
                .strip_prefix("devices/")
                .and_then(|rest| rest.strip_suffix("/messages/devicebound/#"))
                .ok_or_else(|| TopicError::Unknown(filter.to_owned()))?;
            check_owner(filter, owner, device_id)?;
            Ok(Subscription::CloudToDevice)
        }
    }
}

/// Reads a property bag (`%24.mid=m1&%24.ct=application%2Fjson&alert=true`): names and values
/// percent-decoded, `$.`-names as system properties, a name without `=` as an empty value.
pub fn parse_property_bag(bag: &str) -> Result<MessageProperties, TopicError> {
    let mut properties = MessageProperties::default();
    let invalid = |problem: String| TopicError::BadPropertyBag { bag: bag.to_owned(), problem };
    for pair in bag.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_decode_str(text).decode_utf8().map(std::borrow::Cow::into_owned).map_err(|_| invalid(format!("'{text}' is not UTF-8")))
        };
        let (name, value) = (decode(name)?, decode(value)?);
        if name.is_empty() {
            return Err(invalid("a property has no name".to_owned()));
        }
        if name.starts_with("$.") {
            properties.system.insert(name, value);
        } else {
            properties.application.push((name, value));
        }
    }
    Ok(properties)
}

/// Writes a property bag: system properties first, then application properties, percent-encoded.
pub fn property_bag(properties: &MessageProperties) -> String {
    let encode = |text: &str| utf8_percent_encode(text, BAG_ESCAPES).to_string();
    properties
        .system
        .iter()
        .chain(properties.application.iter().map(|(name, value)| (name, value)))
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The answer to a twin request: `$iothub/twin/res/{status}/?$rid=…[&$version=…]`.
pub fn twin_response(status: u16, rid: &str, version: Option<u64>) -> String {
    let version = version.map_or_else(String::new, |version| format!("&$version={version}"));
    format!("$iothub/twin/res/{status}/?$rid={}{version}", encode_value(rid))
}

/// A desired-property change pushed to the device: `$iothub/twin/PATCH/properties/desired/?$version=…`.
pub fn desired_patch(version: u64) -> String {
    format!("$iothub/twin/PATCH/properties/desired/?$version={version}")
}

/// A direct method call: `$iothub/methods/POST/{method}/?$rid=…`.
pub fn method_request(method_name: &str, rid: &str) -> String {
    format!("$iothub/methods/POST/{}/?$rid={}", encode_value(method_name), encode_value(rid))
}

/// A cloud-to-device message: `devices/{id}/messages/devicebound/{bag}`.
pub fn cloud_to_device(device_id: &str, properties: &MessageProperties) -> String {
    format!("devices/{device_id}/messages/devicebound/{}", property_bag(properties))
}

/// The answer to a DPS request: `$dps/registrations/res/{status}/?$rid=…[&retry-after=…]`.
pub fn dps_response(status: u16, rid: &str, retry_after_secs: Option<u32>) -> String {
    let retry = retry_after_secs.map_or_else(String::new, |secs| format!("&retry-after={secs}"));
    format!("$dps/registrations/res/{status}/?$rid={}{retry}", encode_value(rid))
}

fn encode_value(text: &str) -> String {
    utf8_percent_encode(text, BAG_ESCAPES).to_string()
}

/// A device's own topic: the id as sent, or percent-encoded as some SDKs send it.
fn check_owner(topic: &str, owner: &str, device_id: &str) -> Result<(), TopicError> {
    let decoded = percent_decode_str(owner).decode_utf8_lossy();
    if owner == device_id || decoded == device_id {
        Ok(())
    } else {
        Err(TopicError::OtherDevice { topic: topic.to_owned(), device_id: device_id.to_owned() })
    }
}

fn split_query(topic: &str) -> (&str, &str) {
    topic.split_once('?').unwrap_or((topic, ""))
}

fn query_value(query: &str, wanted: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy().into_owned())
}

fn request_id(topic: &str, query: &str) -> Result<String, TopicError> {
    query_value(query, "$rid").filter(|rid| !rid.is_empty()).ok_or_else(|| TopicError::MissingRequestId(topic.to_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_what_the_sdks_publish() {
        let telemetry =
            parse_device_publish("devices/d1/messages/events/%24.mid=msg-123&%24.ct=application%2Fjson&%24.ce=utf-8&alert=true", "d1");
        let Ok(DevicePublish::Telemetry(properties)) = telemetry else { panic!("{telemetry:?}") };
        assert_eq!(properties.system.get("$.ct").map(String::as_str), Some("application/json"));
        assert_eq!(properties.system.get("$.mid").map(String::as_str), Some("msg-123"));
        assert_eq!(properties.application, [("alert".to_owned(), "true".to_owned())]);
        assert_eq!(parse_device_publish("devices/d1/messages/events/", "d1"), Ok(DevicePublish::Telemetry(MessageProperties::default())));
        assert_eq!(parse_device_publish("devices/d1/messages/events", "d1"), Ok(DevicePublish::Telemetry(MessageProperties::default())));
        assert_eq!(parse_device_publish("$iothub/twin/GET/?$rid=7", "d1"), Ok(DevicePublish::TwinGet { rid: "7".into() }));
        assert_eq!(
            parse_device_publish("$iothub/twin/PATCH/properties/reported/?$rid=8", "d1"),
            Ok(DevicePublish::TwinPatchReported { rid: "8".into() })
        );
        assert_eq!(
            parse_device_publish("$iothub/methods/res/200/?$rid=3", "d1"),
            Ok(DevicePublish::MethodResponse { status: 200, rid: "3".into() })
        );
        assert_eq!(
            parse_device_publish("$dps/registrations/PUT/iotdps-register/?$rid=u1", "reg-1"),
            Ok(DevicePublish::DpsRegister { rid: "u1".into() })
        );
        assert_eq!(
            parse_device_publish("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=u2&operationId=4.abc", "reg-1"),
            Ok(DevicePublish::DpsOperationStatus { rid: "u2".into(), operation_id: "4.abc".into() })
        );
    }

    #[test]
    fn refuses_other_devices_unknown_topics_and_missing_parts() {
        assert!(matches!(parse_device_publish("devices/d2/messages/events/", "d1"), Err(TopicError::OtherDevice { .. })));
        assert!(matches!(parse_subscription("devices/d2/messages/devicebound/#", "d1"), Err(TopicError::OtherDevice { .. })));
        assert_eq!(parse_device_publish("$iothub/twin/GET/", "d1"), Err(TopicError::MissingRequestId("$iothub/twin/GET/".into())));
        assert_eq!(parse_device_publish("$iothub/methods/res/abc/?$rid=1", "d1"), Err(TopicError::BadStatus("abc".into())));
        assert_eq!(parse_device_publish("$iothub/methods/res/42/?$rid=1", "d1"), Err(TopicError::BadStatus("42".into())));
        assert!(matches!(
            parse_device_publish("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=u2", "r"),
            Err(TopicError::MissingOperationId(_))
        ));
        for unknown in ["", "devices/d1", "devices/d1/messages/eventsX", "$iothub/anything", "#", "devices/d1/modules/m/messages/events/"] {
            assert!(
                matches!(parse_device_publish(unknown, "d1"), Err(TopicError::Unknown(_) | TopicError::OtherDevice { .. })),
                "{unknown}"
            );
        }
        assert_eq!(parse_subscription("#", "d1"), Err(TopicError::Unknown("#".into())));
        let bad = parse_property_bag("a=%FF").unwrap_err();
        assert!(bad.to_string().contains("is not UTF-8"), "{bad}");
        assert!(parse_property_bag("=v").unwrap_err().to_string().contains("no name"));
    }

    #[test]
    fn reads_the_subscriptions_the_sdks_make() {
        assert_eq!(parse_subscription("$iothub/methods/POST/#", "d1"), Ok(Subscription::Methods));
        assert_eq!(parse_subscription("$iothub/twin/res/#", "d1"), Ok(Subscription::TwinResponses));
        assert_eq!(parse_subscription("$iothub/twin/PATCH/properties/desired/#", "d1"), Ok(Subscription::DesiredPatches));
        assert_eq!(parse_subscription("devices/d1/messages/devicebound/#", "d1"), Ok(Subscription::CloudToDevice));
        assert_eq!(parse_subscription("$dps/registrations/res/#", "reg-1"), Ok(Subscription::DpsResponses));
    }

    #[test]
    fn builds_the_topics_the_service_publishes() {
        assert_eq!(twin_response(204, "r1", Some(5)), "$iothub/twin/res/204/?$rid=r1&$version=5");
        assert_eq!(twin_response(200, "r2", None), "$iothub/twin/res/200/?$rid=r2");
        assert_eq!(desired_patch(9), "$iothub/twin/PATCH/properties/desired/?$version=9");
        assert_eq!(method_request("lockDoor", "12"), "$iothub/methods/POST/lockDoor/?$rid=12");
        assert_eq!(dps_response(202, "u1", Some(3)), "$dps/registrations/res/202/?$rid=u1&retry-after=3");
        let mut properties = MessageProperties::default();
        properties.system.insert("$.mid".into(), "m 1".into());
        properties.application.push(("room".into(), "3/12".into()));
        assert_eq!(cloud_to_device("d1", &properties), "devices/d1/messages/devicebound/%24.mid=m%201&room=3%2F12");
    }

    proptest! {
        #[test]
        fn property_bags_round_trip(
            system in proptest::collection::btree_map("\\$\\.[a-z]{1,8}", ".{0,12}", 0..4),
            application in proptest::collection::vec(("[^$].{0,10}", ".{0,12}"), 0..4),
        ) {
            let properties = MessageProperties { system, application };
            prop_assert_eq!(parse_property_bag(&property_bag(&properties)), Ok(properties));
        }

        #[test]
        fn any_topic_is_read_or_refused_without_panicking(topic in ".{0,80}", device_id in "[a-z0-9-]{1,12}") {
            if let Ok(DevicePublish::Telemetry(_)) = parse_device_publish(&topic, &device_id) {
                prop_assert!(topic.starts_with("devices/") && topic.contains("/messages/events"), "{}", topic);
            }
            let _ = parse_subscription(&topic, &device_id);
        }

        #[test]
        fn a_device_never_reaches_another_devices_topics(other in "[a-z0-9-]{1,12}", device_id in "[a-z0-9-]{1,12}", bag in "[a-z=&]{0,20}") {
            prop_assume!(other != device_id);
            let publish = parse_device_publish(&format!("devices/{other}/messages/events/{bag}"), &device_id);
            prop_assert!(matches!(publish, Err(TopicError::OtherDevice { .. })), "{:?}", publish);
            let subscribe = parse_subscription(&format!("devices/{other}/messages/devicebound/#"), &device_id);
            prop_assert!(matches!(subscribe, Err(TopicError::OtherDevice { .. })), "{:?}", subscribe);
        }
    }
}
