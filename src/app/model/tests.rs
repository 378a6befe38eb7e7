//! Reducer tests: events in, state and commands out.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;
use crate::azure::events::{CallOutcome, CallRecord, ClientEvent, RetryNotice, RetryReason};
use crate::azure::wire::Twin;

fn row(device_id: &str, building: u32, firmware: &str) -> DeviceRow {
    let twin: Twin = serde_json::from_value(json!({
        "deviceId": device_id, "deviceEtag": format!("etag-{device_id}"), "status": "enabled", "connectionState": "Connected",
        "tags": {"building": building}, "properties": {"reported": {"firmware": firmware}}
    }))
    .unwrap();
    DeviceRow::from_twin(&twin)
}

fn connected(state: &mut AppState) -> Vec<Command> {
    let mut out = Vec::new();
    state.apply(Event::Connecting(ProfileId::simulator()), &mut out);
    state.apply(
        Event::Connected {
            profile: ProfileId::simulator(),
            host: "localhost:8443".into(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            notice: None,
            hubs: vec![crate::app::model::HubRef { name: "contoso-east".into(), host: "localhost:8443".into() }],
            hub: "contoso-east".into(),
            dps: true,
        },
        &mut out,
    );
    out
}

fn current_request(out: &[Command]) -> RequestId {
    out.iter()
        .rev()
        .find_map(|command| match command {
            Command::LoadDevices { request, .. } => Some(*request),
            _ => None,
        })
        .expect("a load was started")
}

fn ids(state: &mut AppState) -> Vec<String> {
    state.devices.view_ids().iter().map(ToString::to_string).collect()
}

#[test]
fn connecting_loads_the_query_bar_and_counts() {
    let mut state = AppState::default();
    state.devices.query_input = "tags.building = 43".into();
    let out = connected(&mut state);
    assert_eq!(
        out,
        vec![Command::LoadDevices {
            request: RequestId(1),
            query: "SELECT * FROM devices WHERE tags.building = 43".into(),
            count_query: Some("SELECT COUNT() AS total FROM devices WHERE tags.building = 43".into()),
            returns_twins: true,
        }]
    );
}

#[test]
fn pages_arrive_progressively_and_replace_old_rows_only_when_the_first_comes() {
    let mut state = AppState::default();
    let first = current_request(&connected(&mut state));
    state.apply(Event::DevicesPage { request: first, rows: vec![row("a", 40, "1.0"), row("b", 41, "1.0")] }, &mut Vec::new());
    state.apply(Event::LoadFinished { request: first, cancelled: false }, &mut Vec::new());
    let mut out = Vec::new();
    state.refresh(&mut out);
    let second = current_request(&out);
    assert_eq!(ids(&mut state), ["a", "b"], "old rows stay visible until the new first page");
    state.apply(Event::DevicesTotal { request: second, total: 3 }, &mut Vec::new());
    state.apply(Event::DevicesPage { request: second, rows: vec![row("c", 43, "2.0")] }, &mut Vec::new());
    assert_eq!(ids(&mut state), ["c"]);
    assert_eq!((state.devices.received(), state.devices.total), (1, Some(3)));
    state.apply(Event::DevicesPage { request: first, rows: vec![row("stale", 1, "x")] }, &mut Vec::new());
    assert_eq!(ids(&mut state), ["c"], "pages of a superseded load are ignored");
    state.apply(Event::DevicesPage { request: second, rows: vec![row("d", 43, "2.0"), row("e", 43, "1.0")] }, &mut Vec::new());
    state.apply(Event::LoadFinished { request: second, cancelled: false }, &mut Vec::new());
    assert_eq!(ids(&mut state), ["c", "d", "e"]);
    assert_eq!(state.devices.load, LoadState::Done);
}

#[test]
fn sorting_while_pages_arrive_matches_a_full_sort() {
    let mut state = AppState::default();
    let request = current_request(&connected(&mut state));
    state.devices.sort_by(SortColumn::Field("tags.building".into()));
    state.devices.sort_by(SortColumn::Field("tags.building".into())); // descending
    let pages = [vec![row("d1", 40, "1"), row("d2", 45, "1")], vec![row("d3", 42, "1"), row("d4", 45, "1")], vec![row("d5", 41, "1")]];
    for page in pages {
        state.apply(Event::DevicesPage { request, rows: page }, &mut Vec::new());
        let _ = state.devices.view();
    }
    assert_eq!(ids(&mut state), ["d2", "d4", "d3", "d5", "d1"]);
    state.devices.sort_by(SortColumn::DeviceId);
    assert_eq!(ids(&mut state), ["d1", "d2", "d3", "d4", "d5"]);
    state.devices.set_id_filter("D4".into());
    assert_eq!(ids(&mut state), ["d4"], "the id filter is a case-insensitive prefix");
}

#[test]
fn a_bad_query_puts_the_error_under_the_bar_at_the_right_column() {
    let mut state = AppState::default();
    state.devices.query_input = "tags.building = = 43".into();
    let request = current_request(&connected(&mut state));
    state.apply(
        Event::LoadFailed {
            request,
            status: Some(400),
            message: "syntax error at line 1, column 45: expected a value, a property path or '(', found '='".into(),
        },
        &mut Vec::new(),
    );
    let error = state.devices.query_error.clone().unwrap();
    assert_eq!(error.column, Some(17));
    assert_eq!(state.devices.load, LoadState::Failed);
}

#[test]
fn refresh_keeps_the_selection_of_devices_that_still_exist() {
    let mut state = AppState::default();
    let first = current_request(&connected(&mut state));
    state.apply(Event::DevicesPage { request: first, rows: vec![row("a", 1, "1"), row("b", 1, "1"), row("c", 1, "1")] }, &mut Vec::new());
    state.apply(Event::LoadFinished { request: first, cancelled: false }, &mut Vec::new());
    let view = state.devices.view_ids();
    state.devices.selection.select_all(&view);
    let mut out = Vec::new();
    state.refresh(&mut out);
    let second = current_request(&out);
    state.apply(Event::DevicesPage { request: second, rows: vec![row("b", 1, "1"), row("c", 1, "1")] }, &mut Vec::new());
    state.apply(Event::LoadFinished { request: second, cancelled: false }, &mut Vec::new());
    let mut selected: Vec<String> = state.devices.selection.ids.iter().map(ToString::to_string).collect();
    selected.sort();
    assert_eq!(selected, ["b", "c"]);
    let targets = state.devices.delete_targets();
    assert_eq!(targets[0].etag.as_deref(), Some("etag-b"), "deletes carry the listed etag");
}

#[test]
fn raw_queries_fill_a_plain_table() {
    let mut state = AppState::default();
    state.devices.query_input = "SELECT tags.building AS building, COUNT() AS n FROM devices GROUP BY tags.building".into();
    let out = connected(&mut state);
    let Command::LoadDevices { request, returns_twins, count_query, .. } = out[0].clone() else { panic!() };
    assert!(!returns_twins);
    assert_eq!(count_query, None);
    state.apply(Event::RawPage { request, rows: vec![json!({"building": 43, "n": 2}), json!({"n": 1})] }, &mut Vec::new());
    let raw = state.devices.raw.clone().unwrap();
    assert_eq!(raw.columns, vec!["building", "n"]);
    assert_eq!(raw.rows.len(), 2);
}

fn call(operation: &'static str, target: &str, status: u16, outcome: CallOutcome) -> CallRecord {
    CallRecord {
        started_at: SystemTime::UNIX_EPOCH,
        host: "h".into(),
        operation,
        target: target.into(),
        status: Some(status),
        error_code: None,
        error_message: (status >= 400).then(|| "it broke".to_owned()),
        latency: Duration::from_millis(12),
        attempt: 1,
        outcome,
    }
}

#[test]
fn failures_are_logged_toasted_once_and_shown_in_the_status_bar() {
    let mut state = AppState::default();
    state.apply(Event::Client(ClientEvent::Call(call("get device", "a", 200, CallOutcome::Succeeded))), &mut Vec::new());
    state.apply(Event::Client(ClientEvent::Call(call("get device", "b", 429, CallOutcome::WillRetry))), &mut Vec::new());
    assert!(state.notices.is_empty(), "a retried attempt is not a failure yet");
    state.apply(Event::Client(ClientEvent::Call(call("delete device", "c", 404, CallOutcome::Failed))), &mut Vec::new());
    assert_eq!(state.activity.len(), 3);
    assert_eq!(state.notices.len(), 1);
    assert_eq!(state.notices[0].level, NoticeLevel::Error);
    assert!(state.notices[0].text.contains("delete device c failed: HTTP 404 it broke (Activity #2)"), "{}", state.notices[0].text);
    assert_eq!(state.status.last_error.as_ref().map(|(seq, _)| *seq), Some(2));
    // A stale etag is the caller's to explain (conflict view, per-device failures): logged only.
    state.apply(Event::Client(ClientEvent::Call(call("patch twin", "d", 412, CallOutcome::Failed))), &mut Vec::new());
    assert_eq!(state.activity.len(), 4);
    assert_eq!(state.notices.len(), 1);
    assert_eq!(state.status.last_error.as_ref().map(|(seq, _)| *seq), Some(2));
}

#[test]
fn a_retry_wait_shows_until_the_call_ends() {
    let mut state = AppState::default();
    let notice = RetryNotice {
        host: "h".into(),
        operation: "query devices",
        target: "q".into(),
        next_attempt: 2,
        wait: Duration::from_secs(3),
        resume_at: SystemTime::now() + Duration::from_secs(3),
        reason: RetryReason::Throttled,
    };
    state.apply(Event::Client(ClientEvent::RetryWaiting(notice)), &mut Vec::new());
    assert!(state.status.retry.is_some());
    state.apply(Event::Client(ClientEvent::Call(call("query devices", "q", 200, CallOutcome::Succeeded))), &mut Vec::new());
    assert!(state.status.retry.is_none());
}

#[test]
fn switching_profiles_clears_the_other_hubs_devices() {
    let mut state = AppState::default();
    let request = current_request(&connected(&mut state));
    state.apply(Event::DevicesPage { request, rows: vec![row("a", 1, "1")] }, &mut Vec::new());
    state.devices.query_input = "tags.building = 1".into();
    state.apply(Event::Connecting(ProfileId("prod".into())), &mut Vec::new());
    assert!(state.devices.rows.is_empty());
    assert_eq!(state.devices.query_input, "tags.building = 1", "the query bar is kept");
    assert_eq!(state.profiles.active, ProfileId("prod".into()));
}

#[test]
fn an_action_refreshes_and_reports() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.apply(Event::ActionDone { summary: "Deleted 2 devices".into(), failures: vec![] }, &mut out);
    assert!(matches!(out.last(), Some(Command::LoadDevices { .. })));
    assert_eq!(state.notices.last().unwrap().level, NoticeLevel::Success);
    state.apply(Event::ActionDone { summary: "Deleted 1 of 2 devices".into(), failures: vec!["x: PreconditionFailed".into()] }, &mut out);
    assert!(state.notices.last().unwrap().text.contains("x: PreconditionFailed"));
}

#[test]
fn switching_profiles_closes_a_dirty_enrollment_editor_and_says_so() {
    use crate::app::model::EnrollmentKind;
    use crate::app::model::reprovision_choice::PolicyChoice;
    let mut state = AppState::default();
    connected(&mut state);
    let enrollment: crate::azure::wire::IndividualEnrollment =
        serde_json::from_value(serde_json::json!({"registrationId": "door-1", "attestation": {"type": "symmetricKey"}, "etag": "\"e1\""}))
            .unwrap();
    state.enrollments.individuals = vec![enrollment];
    let mut out = Vec::new();
    state.open_enrollment(EnrollmentKind::Individual, "door-1", &mut out);
    state.enrollments.editor.as_mut().unwrap().policy = PolicyChoice::Reset;
    state.apply(Event::Connecting(ProfileId("staging".into())), &mut out);
    assert!(state.enrollments.editor.is_none(), "a draft is never saved to another profile's DPS");
    assert!(state.notices.iter().any(|notice| notice.text.contains("door-1") && notice.text.contains("were not sent")));
}
