//! Direct methods on simulated devices: wait up to the connect timeout for the device to be
//! online, let its app answer after a short delay (slow devices answer too late, so callers see
//! the gateway timeout), and reboot devices that are asked to.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt as _;
use serde_json::json;
use tokio::time::Instant;

use super::clock::now_ticks;
use super::error::HubError;
use super::hub::Hub;
use super::registry::Changes;
use crate::azure::wire::{
    CloudToDeviceMethod, ConnectionState, DeviceStatus, ErrorCode, METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS, METHOD_RESPONSE_TIMEOUT_MAX_SECS,
    METHOD_RESPONSE_TIMEOUT_MIN_SECS, MethodResult,
};

/// How simulated devices answer methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodConfig {
    /// Shortest time a device app takes to answer.
    pub answer_delay_min: Duration,
    /// Longest time (normal devices).
    pub answer_delay_max: Duration,
    /// How long slow devices take (longer than most response timeouts).
    pub slow_answer: Duration,
    /// Slow devices per thousand, chosen by a stable hash of the device id.
    pub slow_per_mille: u16,
    /// How long a rebooting device stays offline.
    pub reboot_offline: Duration,
}

impl Default for MethodConfig {
    fn default() -> Self {
        Self {
            answer_delay_min: Duration::from_millis(20),
            answer_delay_max: Duration::from_millis(250),
            slow_answer: Duration::from_secs(400),
            slow_per_mille: 30,
            reboot_offline: Duration::from_secs(15),
        }
    }
}

/// True for devices that answer too slowly (stable across restarts: a hash of the id).
pub fn is_slow(device_id: &str, slow_per_mille: u16) -> bool {
    // FNV-1a: tiny, stable, and good enough to spread ids evenly.
    let hash = device_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    hash % 1000 < u64::from(slow_per_mille)
}

fn hh_mm_ss(seconds: u64) -> String {
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// 404 `DeviceNotOnline` in the newer structured body, with the connect timeout.
pub fn not_online(connect_timeout_secs: u64) -> HubError {
    HubError {
        structured_info: Some(json!({"timeout": hh_mm_ss(connect_timeout_secs)})),
        ..HubError::new(ErrorCode::DeviceNotOnline, "Timed out waiting for device to connect.")
    }
}

/// 504 `GatewayTimeout` (504101).
pub fn gateway_timeout() -> HubError {
    HubError {
        structured_info: Some(json!({})),
        ..HubError::new(ErrorCode::GatewayTimeout, "Timed out waiting for the response from device.")
    }
}

/// Checks the method request as the service does.
pub fn validate(method: &CloudToDeviceMethod) -> Result<(), HubError> {
    if method.method_name.trim().is_empty() {
        return Err(HubError::new(ErrorCode::ArgumentNull, "methodName is required"));
    }
    let response = method.response_timeout_in_seconds.unwrap_or(METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS);
    if !(METHOD_RESPONSE_TIMEOUT_MIN_SECS..=METHOD_RESPONSE_TIMEOUT_MAX_SECS).contains(&response) {
        return Err(HubError::invalid(format!(
            "responseTimeoutInSeconds must be between {METHOD_RESPONSE_TIMEOUT_MIN_SECS} and {METHOD_RESPONSE_TIMEOUT_MAX_SECS}, not {response}"
        )));
    }
    let connect = method.connect_timeout_in_seconds.unwrap_or(0);
    if connect > METHOD_RESPONSE_TIMEOUT_MAX_SECS {
        return Err(HubError::invalid(format!(
            "connectTimeoutInSeconds must be at most {METHOD_RESPONSE_TIMEOUT_MAX_SECS}, not {connect}"
        )));
    }
    Ok(())
}

/// The simulated app of `device_id` when it is online (an unknown device is 404).
fn simulated_online(hub: &Hub, device_id: &str) -> Result<Option<super::device_app::SimProfile>, HubError> {
    hub.read(|registry| {
        registry.get(device_id).map(|record| {
            let online = record.connection_state == ConnectionState::Connected && record.status == DeviceStatus::Enabled;
            record.simulated.filter(|_| online)
        })
    })
}

/// Invokes `method` on `device_id` and returns what the device answered.
pub async fn invoke(hub: &Arc<Hub>, device_id: &str, method: &CloudToDeviceMethod) -> Result<MethodResult, HubError> {
    validate(method)?;
    hub.quotas().check_messages()?;
    let outcome = deliver(hub, device_id, method).await;
    // Charged as the service charges: request chunks plus response chunks (at least one each);
    // a call that reached no device still costs its request and one message.
    let meter = hub.quotas().meter();
    let request_bytes = serde_json::to_vec(&method.payload).map_or(0, |bytes| bytes.len());
    let response_bytes = match &outcome {
        Ok(answer) => serde_json::to_vec(&answer.payload).map_or(0, |bytes| bytes.len()),
        Err(_) => 0,
    };
    hub.quotas().charge_messages(meter.method_cost(request_bytes, response_bytes));
    outcome
}

/// Delivers a call to the real or simulated device and waits for its answer.
async fn deliver(hub: &Arc<Hub>, device_id: &str, method: &CloudToDeviceMethod) -> Result<MethodResult, HubError> {
    let config = hub.method_config().clone();
    let connect_timeout = method.connect_timeout_in_seconds.unwrap_or(0);
    let connect_deadline = Instant::now() + Duration::from_secs(connect_timeout);
    let profile = loop {
        // Real device code connected under this id answers itself (the simulated app is silent).
        if let Some(link) = hub.devices().get(device_id) {
            if link.has(super::mqtt::connections::Interest::Methods) {
                let timeout = Duration::from_secs(method.response_timeout_in_seconds.unwrap_or(METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS));
                return hub.devices().invoke(&link, &method.method_name, &method.payload, timeout).await;
            }
        } else if let Some(profile) = simulated_online(hub, device_id)? {
            break profile;
        }
        if Instant::now() >= connect_deadline {
            return Err(not_online(connect_timeout));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delay = if is_slow(device_id, config.slow_per_mille) {
        config.slow_answer
    } else {
        let (min, max) = (config.answer_delay_min, config.answer_delay_max.max(config.answer_delay_min));
        rand::rng().random_range(min..=max)
    };
    let limit = Duration::from_secs(method.response_timeout_in_seconds.unwrap_or(METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS));
    if delay > limit {
        tokio::time::sleep(limit).await;
        return Err(gateway_timeout());
    }
    tokio::time::sleep(delay).await;
    let answer = profile.answer_method(&method.method_name, &method.payload);
    if method.method_name == "reboot" && answer.status == 200 {
        tokio::spawn(reboot(Arc::clone(hub), device_id.to_owned(), config.reboot_offline, profile.provisioned));
    }
    if method.method_name == "reprovision" && answer.status == 200 {
        hub.request_reprovision(device_id);
    }
    Ok(answer)
}

/// The device drops off, then reconnects and reports when it rebooted.
/// A device provisioned through DPS registers again when it comes back.
async fn reboot(hub: Arc<Hub>, device_id: String, offline_for: Duration, provisioned: bool) {
    let set_state = |state: ConnectionState| {
        let device_id = device_id.clone();
        move |registry: &mut super::registry::Registry| {
            let now = now_ticks();
            let record = registry.get_mut(&device_id)?;
            record.connection_state = state;
            record.connection_state_updated = now;
            if state == ConnectionState::Connected {
                let timestamp = super::clock::timestamp(now).to_wire();
                let mut reported = serde_json::Map::new();
                reported.insert("lastReboot".to_owned(), json!(timestamp));
                record.twin.reported.merge(&reported, super::prop_tree::Meta { updated: now, version: 0 });
                record.twin.reported_version += 1;
                record.twin.version += 1;
                record.last_activity = now;
            }
            Ok(((), Changes::upsert(&device_id)))
        }
    };
    if hub.write(set_state(ConnectionState::Disconnected)).await.is_err() {
        return; // deleted meanwhile
    }
    tokio::time::sleep(offline_for).await;
    hub.write(set_state(ConnectionState::Connected)).await.ok();
    if provisioned {
        hub.request_reprovision(&device_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_devices_are_stable_and_about_as_many_as_asked() {
        let slow = (0..10_000).filter(|index| is_slow(&format!("dev-{index:05}"), 30)).count();
        assert!((200..400).contains(&slow), "{slow}");
        assert_eq!(is_slow("b43-f1-lock-00001", 30), is_slow("b43-f1-lock-00001", 30));
        assert!(!is_slow("anything", 0));
    }

    mod on_a_paused_clock {
        //! Connect and response timeouts, and reboots, measured on tokio's paused clock: each
        //! wait is exact and no test waits in real time.

        use super::*;
        use crate::sim::registry::Registry;
        use crate::sim::seed::demo_fleet;

        const ANSWER: Duration = Duration::from_millis(250);

        /// A hub with one simulated device, online or not, answering in exactly 250 ms (or too
        /// slowly when `slow`).
        fn hub_with_device(online: bool, slow: bool) -> (Arc<Hub>, String) {
            let mut record = demo_fleet(1, 43, 1).remove(0);
            record.status = DeviceStatus::Enabled;
            record.connection_state = if online { ConnectionState::Connected } else { ConnectionState::Disconnected };
            let device_id = record.device_id.clone();
            let config = MethodConfig {
                answer_delay_min: ANSWER,
                answer_delay_max: ANSWER,
                slow_per_mille: if slow { 1000 } else { 0 },
                ..MethodConfig::default()
            };
            (Hub::for_tests(Registry::from_records([record]), None, config), device_id)
        }

        fn call(name: &str, connect_timeout_secs: Option<u64>, response_timeout_secs: u64) -> CloudToDeviceMethod {
            CloudToDeviceMethod {
                method_name: name.into(),
                payload: json!({"lockTime": "10m"}),
                response_timeout_in_seconds: Some(response_timeout_secs),
                connect_timeout_in_seconds: connect_timeout_secs,
            }
        }

        fn is_online(hub: &Hub, device_id: &str) -> bool {
            hub.read(|registry| registry.get(device_id).map(|record| record.connection_state == ConnectionState::Connected).unwrap())
        }

        #[tokio::test(start_paused = true)]
        async fn an_online_device_answers_after_its_delay() {
            let (hub, device_id) = hub_with_device(true, false);
            let started = Instant::now();
            let answer = invoke(&hub, &device_id, &call("lockDoor", None, 30)).await.unwrap();
            assert_eq!((answer.status, started.elapsed()), (200, ANSWER), "{answer:?}");
        }

        #[tokio::test(start_paused = true)]
        async fn an_offline_device_is_not_online_exactly_at_the_connect_timeout() {
            let (hub, device_id) = hub_with_device(false, false);
            let started = Instant::now();
            let error = invoke(&hub, &device_id, &call("lockDoor", Some(20), 30)).await.unwrap_err();
            assert_eq!((error.code, error.status()), (ErrorCode::DeviceNotOnline, 404), "{error:?}");
            assert_eq!(error.structured_info, Some(json!({"timeout": "00:00:20"})));
            assert_eq!(started.elapsed(), Duration::from_secs(20));
            let at_once = Instant::now();
            invoke(&hub, &device_id, &call("lockDoor", None, 30)).await.unwrap_err();
            assert_eq!(at_once.elapsed(), Duration::ZERO, "without a connect timeout an offline device fails at once");
        }

        #[tokio::test(start_paused = true)]
        async fn a_device_that_connects_within_the_connect_timeout_answers() {
            let (hub, device_id) = hub_with_device(false, false);
            let (connecting_hub, connecting_id) = (Arc::clone(&hub), device_id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                connecting_hub
                    .write(|registry| {
                        registry.get_mut(&connecting_id)?.connection_state = ConnectionState::Connected;
                        Ok(((), Changes::upsert(&connecting_id)))
                    })
                    .await
                    .unwrap();
            });
            let started = Instant::now();
            let answer = invoke(&hub, &device_id, &call("lockDoor", Some(10), 30)).await.unwrap();
            assert_eq!(answer.status, 200);
            // Seen at the next 100 ms look after connecting, then the device's own delay.
            let waited = started.elapsed();
            assert!(waited >= Duration::from_secs(3) + ANSWER && waited <= Duration::from_millis(3100) + ANSWER, "{waited:?}");
        }

        #[tokio::test(start_paused = true)]
        async fn a_slow_device_times_out_exactly_at_the_response_timeout() {
            let (hub, device_id) = hub_with_device(true, true);
            let started = Instant::now();
            let error = invoke(&hub, &device_id, &call("lockDoor", None, 30)).await.unwrap_err();
            assert_eq!((error.code, error.status()), (ErrorCode::GatewayTimeout, 504), "{error:?}");
            assert_eq!(started.elapsed(), Duration::from_secs(30));
        }

        #[tokio::test(start_paused = true)]
        async fn a_reboot_takes_the_device_offline_for_the_configured_time() {
            let (hub, device_id) = hub_with_device(true, false);
            let answer = invoke(&hub, &device_id, &call("reboot", None, 30)).await.unwrap();
            assert_eq!(answer.status, 200, "{answer:?}");
            let rebooted = Instant::now();
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert!(!is_online(&hub, &device_id), "offline while rebooting");
            tokio::time::sleep_until(rebooted + MethodConfig::default().reboot_offline - Duration::from_millis(1)).await;
            assert!(!is_online(&hub, &device_id), "still offline just before the reboot time");
            tokio::time::sleep_until(rebooted + MethodConfig::default().reboot_offline + Duration::from_millis(1)).await;
            assert!(is_online(&hub, &device_id), "back once the reboot time has passed");
            let twin = hub.read(|registry| registry.get(&device_id).unwrap().to_twin());
            assert!(twin.reported().is_some_and(|reported| reported.contains_key("lastReboot")), "{twin:?}");
        }
    }

    #[test]
    fn timeouts_are_checked() {
        let method = |response: Option<u64>| CloudToDeviceMethod {
            method_name: "lockDoor".into(),
            payload: json!({"lockTime": "10m"}),
            response_timeout_in_seconds: response,
            connect_timeout_in_seconds: None,
        };
        assert_eq!(validate(&method(None)), Ok(()));
        assert!(validate(&method(Some(4))).unwrap_err().message.contains("between 5 and 300, not 4"));
        assert!(validate(&method(Some(301))).is_err());
        assert_eq!(hh_mm_ss(60), "00:01:00");
    }
}
