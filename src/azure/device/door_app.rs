//! The device app `hubdeck device` runs, the seed's door lock: how it answers direct methods
//! (`lockDoor`, `unlockDoor`, `reboot`, `reprovision`, anything else 501), how it acknowledges
//! desired properties the IoT Plug and Play way, what it reports and what telemetry it sends.
//! No I/O and no clock here: the runner passes the time in.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::credentials::client_type;

/// Longest `lockTime` accepted.
pub const MAX_LOCK_TIME: Duration = Duration::from_hours(24 * 7);
/// What the acknowledgement of a desired property says.
pub const ACK_DESCRIPTION: &str = "applied by hubdeck device";

/// What the device does once it has answered a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAnswer {
    /// Nothing more.
    Nothing,
    /// Report the door's new state.
    ReportState,
    /// Drop the connection and come back after a short delay.
    Reboot,
    /// Register again through DPS.
    Reprovision,
}

/// The answer to one direct method.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodAnswer {
    /// The status sent back (200, 400, 501).
    pub status: u16,
    /// The JSON payload sent back.
    pub payload: Value,
    /// What happens next.
    pub then: AfterAnswer,
}

/// The door and what the device remembers.
#[derive(Clone, Debug, PartialEq)]
pub struct DoorApp {
    /// Started through DPS (so `reprovision` can work).
    pub via_dps: bool,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// The `lockTime` of the last `lockDoor`.
    pub lock_time: Option<String>,
    /// When the last `reboot` happened.
    pub last_reboot: Option<DateTime<Utc>>,
    /// The last temperature sent, for a smooth series.
    pub temperature: f64,
    /// Messages sent, for message ids.
    pub messages_sent: u64,
}

impl DoorApp {
    /// A fresh device, door unlocked.
    pub fn new(via_dps: bool) -> Self {
        Self { via_dps, locked_until: None, lock_time: None, last_reboot: None, temperature: 21.0, messages_sent: 0 }
    }

    /// True while a lock is in force at `now`.
    pub fn door_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Answers `name` called with `payload` (JSON as sent).
    pub fn answer_method(&mut self, name: &str, payload: &[u8], now: DateTime<Utc>) -> MethodAnswer {
        match name {
            "lockDoor" => self.lock_door(payload, now),
            "unlockDoor" => {
                self.locked_until = None;
                self.lock_time = None;
                answer(200, json!({"result": "door unlocked", "doorLocked": false}), AfterAnswer::ReportState)
            }
            "reboot" => {
                self.last_reboot = Some(now);
                answer(200, json!({"result": "rebooting", "lastReboot": timestamp(now)}), AfterAnswer::Reboot)
            }
            "reprovision" if self.via_dps => answer(200, json!({"result": "registering again through DPS"}), AfterAnswer::Reprovision),
            "reprovision" => answer(
                400,
                json!({"error": "this device was started with a connection string, not through DPS, so it cannot re-provision"}),
                AfterAnswer::Nothing,
            ),
            // As the SDK samples answer methods they do not know.
            other => answer(501, json!({"error": format!("method '{other}' is not implemented by this device")}), AfterAnswer::Nothing),
        }
    }

    fn lock_door(&mut self, payload: &[u8], now: DateTime<Utc>) -> MethodAnswer {
        let bad = |reason: String| answer(400, json!({"error": reason}), AfterAnswer::Nothing);
        let Ok(body) = serde_json::from_slice::<Value>(payload) else {
            return bad("the payload is not JSON; send {\"lockTime\":\"10m\"}".to_owned());
        };
        let lock_time = match body.get("lockTime") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(seconds)) => seconds.to_string(),
            Some(_) => return bad("lockTime must be a duration such as \"10m\", \"30s\" or \"2h\"".to_owned()),
            None => return bad("lockTime is missing; send {\"lockTime\":\"10m\"}".to_owned()),
        };
        let duration = match parse_lock_time(&lock_time) {
            Ok(duration) => duration,
            Err(reason) => return bad(reason),
        };
        let until = now + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        self.locked_until = Some(until);
        self.lock_time = Some(lock_time.clone());
        answer(
            200,
            json!({"result": format!("door locked for {lock_time}"), "doorLocked": true, "lockTime": lock_time, "lockedUntil": timestamp(until)}),
            AfterAnswer::ReportState,
        )
    }

    /// The reported properties sent on connect and after a change of the door.
    pub fn reported_state(&self, now: DateTime<Utc>, connected_at: DateTime<Utc>) -> Value {
        let mut state = json!({
            "doorLocked": self.door_locked(now),
            "lockedUntil": self.locked_until.filter(|_| self.door_locked(now)).map(timestamp),
            "firmware": client_type(),
            "connectedAt": timestamp(connected_at),
        });
        if let Some(last_reboot) = self.last_reboot {
            state["lastReboot"] = json!(timestamp(last_reboot));
        }
        state
    }

    /// The next telemetry message: a JSON body and application properties. `noise` (−1..1)
    /// moves the temperature; the runner passes a random value, tests a fixed one.
    pub fn telemetry(&mut self, now: DateTime<Utc>, noise: f64) -> (Value, Vec<(&'static str, String)>) {
        self.messages_sent += 1;
        self.temperature = (self.temperature + noise * 0.5).clamp(10.0, 35.0);
        let temperature = (self.temperature * 10.0).round() / 10.0;
        let alert = temperature >= 30.0;
        let body = json!({"temperature": temperature, "doorLocked": self.door_locked(now), "sentAt": timestamp(now)});
        (body, vec![("alert", alert.to_string())])
    }
}

fn answer(status: u16, payload: Value, then: AfterAnswer) -> MethodAnswer {
    MethodAnswer { status, payload, then }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads a `lockTime`: a number with an optional unit `s`, `m`, `h` or `d` (`"10m"`, `"90"`).
pub fn parse_lock_time(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_secs) = match text.char_indices().last() {
        Some((index, 's')) => (&text[..index], 1),
        Some((index, 'm')) => (&text[..index], 60),
        Some((index, 'h')) => (&text[..index], 3600),
        Some((index, 'd')) => (&text[..index], 86_400),
        _ => (text, 1),
    };
    let amount: u64 =
        number.trim().parse().map_err(|_| format!("lockTime '{text}' is not a duration such as \"10m\", \"30s\" or \"2h\""))?;
    let duration = Duration::from_secs(amount.saturating_mul(unit_secs));
    if duration.is_zero() {
        return Err("lockTime must be longer than zero".to_owned());
    }
    if duration > MAX_LOCK_TIME {
        return Err(format!("lockTime '{text}' is longer than the 7 days this door allows"));
    }
    Ok(duration)
}

/// A desired property acknowledged the IoT Plug and Play way.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredChange {
    /// The property.
    pub name: String,
    /// Its desired value (`null`: removed).
    pub value: Value,
}

/// Acknowledges a desired patch: each property (not `$version`/`$metadata`) is reported as
/// `{"value", "ac": 200, "av": <desired $version>, "ad"}`; a removed one (`null`) is removed from
/// the reported properties too. Returns the reported patch (`None` when there is nothing) and
/// the changes.
pub fn acknowledge_desired(patch: &Value, version: Option<u64>) -> (Option<Value>, Vec<DesiredChange>) {
    let version = version.or_else(|| patch.get("$version").and_then(Value::as_u64));
    let mut reported = Map::new();
    let mut changes = Vec::new();
    for (name, value) in patch.as_object().into_iter().flatten().filter(|(name, _)| !name.starts_with('$')) {
        let acknowledgement =
            if value.is_null() { Value::Null } else { json!({"value": value, "ac": 200, "av": version, "ad": ACK_DESCRIPTION}) };
        reported.insert(name.clone(), acknowledgement);
        changes.push(DesiredChange { name: name.clone(), value: value.clone() });
    }
    ((!reported.is_empty()).then_some(Value::Object(reported)), changes)
}

/// On connect: the desired properties whose acknowledgement (`av`) is not the desired section's
/// current `$version`, acknowledged (changes made while the device was away).
pub fn pending_acknowledgements(twin: &Value) -> (Option<Value>, Vec<DesiredChange>) {
    let desired = twin.get("desired").cloned().unwrap_or(Value::Null);
    let Some(version) = desired.get("$version").and_then(Value::as_u64) else {
        return (None, Vec::new());
    };
    let reported = twin.get("reported");
    let mut unacknowledged = Map::new();
    for (name, value) in desired.as_object().into_iter().flatten().filter(|(name, _)| !name.starts_with('$')) {
        let acknowledged = reported.and_then(|reported| reported.get(name)).and_then(|ack| ack.get("av")).and_then(Value::as_u64);
        if acknowledged != Some(version) {
            unacknowledged.insert(name.clone(), value.clone());
        }
    }
    acknowledge_desired(&Value::Object(unacknowledged), Some(version))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn lock_door_locks_for_the_time_asked() {
        let mut app = DoorApp::new(false);
        let answer = app.answer_method("lockDoor", br#"{"lockTime":"10m"}"#, now());
        assert_eq!(answer.status, 200);
        assert_eq!(answer.then, AfterAnswer::ReportState);
        assert_eq!(
            answer.payload,
            json!({"result": "door locked for 10m", "doorLocked": true, "lockTime": "10m", "lockedUntil": "2030-01-01T12:10:00Z"})
        );
        assert!(app.door_locked(now()));
        assert!(!app.door_locked(now() + chrono::Duration::minutes(10)), "the lock ends after lockTime");
        let unlocked = app.answer_method("unlockDoor", b"null", now());
        assert_eq!((unlocked.status, unlocked.then), (200, AfterAnswer::ReportState));
        assert!(!app.door_locked(now()));
    }

    #[test]
    fn a_bad_lock_payload_is_a_400_with_the_reason() {
        let mut app = DoorApp::new(false);
        for (payload, reason) in [
            (&b"not json"[..], "not JSON"),
            (br"{}", "lockTime is missing"),
            (br#"{"lockTime":true}"#, "must be a duration"),
            (br#"{"lockTime":"soon"}"#, "'soon' is not a duration"),
            (br#"{"lockTime":"0m"}"#, "longer than zero"),
            (br#"{"lockTime":"30d"}"#, "longer than the 7 days"),
        ] {
            let answer = app.answer_method("lockDoor", payload, now());
            assert_eq!(answer.status, 400, "{payload:?}");
            let error = answer.payload["error"].as_str().unwrap();
            assert!(error.contains(reason), "{error} lacks {reason}");
            assert!(!app.door_locked(now()));
        }
        assert_eq!(parse_lock_time("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lock_time("2h"), Ok(Duration::from_hours(2)));
        assert_eq!(app.answer_method("lockDoor", br#"{"lockTime":45}"#, now()).status, 200);
    }

    #[test]
    fn reboot_reprovision_and_unknown_methods() {
        let mut app = DoorApp::new(false);
        let reboot = app.answer_method("reboot", b"", now());
        assert_eq!((reboot.status, reboot.then), (200, AfterAnswer::Reboot));
        assert_eq!(app.last_reboot, Some(now()));
        assert_eq!(app.reported_state(now(), now())["lastReboot"], json!("2030-01-01T12:00:00Z"));
        let refused = app.answer_method("reprovision", b"", now());
        assert_eq!((refused.status, refused.then), (400, AfterAnswer::Nothing));
        let mut via_dps = DoorApp::new(true);
        let accepted = via_dps.answer_method("reprovision", b"", now());
        assert_eq!((accepted.status, accepted.then), (200, AfterAnswer::Reprovision));
        let unknown = app.answer_method("selfDestruct", b"{}", now());
        assert_eq!(unknown.status, 501);
        assert_eq!(unknown.payload["error"], json!("method 'selfDestruct' is not implemented by this device"));
    }

    #[test]
    fn desired_changes_are_acknowledged_the_plug_and_play_way() {
        let (reported, changes) = acknowledge_desired(&json!({"floor": 3, "building": 43, "old": null, "$version": 7}), Some(7));
        assert_eq!(
            reported,
            Some(json!({
                "floor": {"value": 3, "ac": 200, "av": 7, "ad": ACK_DESCRIPTION},
                "building": {"value": 43, "ac": 200, "av": 7, "ad": ACK_DESCRIPTION},
                "old": null,
            }))
        );
        assert_eq!(changes.iter().map(|change| change.name.as_str()).collect::<Vec<_>>(), ["floor", "building", "old"]);
        assert_eq!(acknowledge_desired(&json!({"$version": 8}), Some(8)), (None, Vec::new()));
    }

    #[test]
    fn on_connect_only_unacknowledged_properties_are_acknowledged() {
        let twin = json!({
            "desired": {"floor": 3, "building": 43, "$version": 5},
            "reported": {"floor": {"value": 3, "ac": 200, "av": 5}, "building": {"value": 42, "ac": 200, "av": 4}, "$version": 9},
        });
        let (reported, changes) = pending_acknowledgements(&twin);
        assert_eq!(reported, Some(json!({"building": {"value": 43, "ac": 200, "av": 5, "ad": ACK_DESCRIPTION}})));
        assert_eq!(changes, [DesiredChange { name: "building".into(), value: json!(43) }]);
        assert_eq!(pending_acknowledgements(&json!({"desired": {"$version": 1}, "reported": {}})), (None, Vec::new()));
    }

    #[test]
    fn state_and_telemetry() {
        let mut app = DoorApp::new(false);
        app.answer_method("lockDoor", br#"{"lockTime":"1h"}"#, now());
        let state = app.reported_state(now(), now());
        assert_eq!(state["doorLocked"], json!(true));
        assert_eq!(state["lockedUntil"], json!("2030-01-01T13:00:00Z"));
        assert_eq!(state["connectedAt"], json!("2030-01-01T12:00:00Z"));
        assert!(state["firmware"].as_str().unwrap().starts_with("hubdeck-device/"));
        let (body, properties) = app.telemetry(now(), 1.0);
        assert_eq!(body["temperature"], json!(21.5));
        assert_eq!(body["doorLocked"], json!(true));
        assert_eq!(properties, [("alert", "false".to_owned())]);
        app.temperature = 29.9;
        assert_eq!(app.telemetry(now(), 1.0).1, [("alert", "true".to_owned())]);
        assert_eq!(app.messages_sent, 2);
    }
}
