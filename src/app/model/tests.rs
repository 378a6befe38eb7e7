//! Reducer tests: events in, state and commands out.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::enrollments::EnrollmentLists;
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

/// A fixed moment: reducer tests never read the clock.
fn now() -> Now {
    Now { instant: Instant::now(), wall: SystemTime::UNIX_EPOCH + Duration::from_hours(500_000) }
}

fn connected_to(state: &mut AppState, profile: &ProfileId, hub: &str) -> Vec<Command> {
    let mut out = Vec::new();
    state.apply(ConnectionEvent::Connecting(profile.clone()).into(), now(), &mut out);
    let connected = Connected {
        profile: profile.clone(),
        host: "localhost:8443".into(),
        in_flight: Arc::new(AtomicUsize::new(0)),
        notice: None,
        hubs: vec![
            HubRef { name: "contoso-east".into(), host: "localhost:8443".into() },
            HubRef { name: "contoso-west".into(), host: "localhost:8444".into() },
        ],
        hub: hub.into(),
        dps: true,
        device_side: connect_device::DeviceSide::new("localhost:8443", Some("/sim/ca.pem".into()), None),
    };
    state.apply(ConnectionEvent::Connected(Box::new(connected)).into(), now(), &mut out);
    out
}

fn connected(state: &mut AppState) -> Vec<Command> {
    connected_to(state, &ProfileId::simulator(), "contoso-east")
}

fn current_request(out: &[Command]) -> RequestId {
    out.iter()
        .rev()
        .find_map(|command| match command {
            Command::Devices(DeviceCommand::Load { request, .. }) => Some(*request),
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
    let request = current_request(&out);
    assert_eq!(
        out,
        vec![Command::Devices(DeviceCommand::Load {
            request,
            query: "SELECT * FROM devices WHERE tags.building = 43".into(),
            count_query: Some("SELECT COUNT() AS total FROM devices WHERE tags.building = 43".into()),
            returns_twins: true,
        })]
    );
    assert!(state.devices.load.awaits(request));
}

#[test]
fn pages_arrive_progressively_and_replace_old_rows_only_when_the_first_comes() {
    let mut state = AppState::default();
    let first = current_request(&connected(&mut state));
    state.apply(
        Event::Devices(DeviceEvent::Page { request: first, rows: vec![row("a", 40, "1.0"), row("b", 41, "1.0")] }),
        now(),
        &mut Vec::new(),
    );
    state.apply(Event::Devices(DeviceEvent::LoadFinished { request: first, cancelled: false }), now(), &mut Vec::new());
    let mut out = Vec::new();
    state.refresh(&mut out);
    let second = current_request(&out);
    assert_eq!(ids(&mut state), ["a", "b"], "old rows stay visible until the new first page");
    state.apply(Event::Devices(DeviceEvent::Total { request: second, total: 3 }), now(), &mut Vec::new());
    state.apply(Event::Devices(DeviceEvent::Page { request: second, rows: vec![row("c", 43, "2.0")] }), now(), &mut Vec::new());
    assert_eq!(ids(&mut state), ["c"]);
    assert_eq!((state.devices.received(), state.devices.total), (1, Some(3)));
    state.apply(Event::Devices(DeviceEvent::Page { request: first, rows: vec![row("stale", 1, "x")] }), now(), &mut Vec::new());
    assert_eq!(ids(&mut state), ["c"], "pages of a superseded load are ignored");
    state.apply(
        Event::Devices(DeviceEvent::Page { request: second, rows: vec![row("d", 43, "2.0"), row("e", 43, "1.0")] }),
        now(),
        &mut Vec::new(),
    );
    state.apply(Event::Devices(DeviceEvent::LoadFinished { request: second, cancelled: false }), now(), &mut Vec::new());
    assert_eq!(ids(&mut state), ["c", "d", "e"]);
    assert!(state.devices.load_complete());
}

#[test]
fn sorting_while_pages_arrive_matches_a_full_sort() {
    let mut state = AppState::default();
    let request = current_request(&connected(&mut state));
    state.devices.sort_by(SortColumn::Field("tags.building".into()));
    state.devices.sort_by(SortColumn::Field("tags.building".into())); // descending
    let pages = [vec![row("d1", 40, "1"), row("d2", 45, "1")], vec![row("d3", 42, "1"), row("d4", 45, "1")], vec![row("d5", 41, "1")]];
    for page in pages {
        state.apply(Event::Devices(DeviceEvent::Page { request, rows: page }), now(), &mut Vec::new());
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
    let error = AppError {
        status: Some(400),
        code: Some("BadRequest".into()),
        message: "syntax error at line 1, column 45: expected a value, a property path or '(', found '='".into(),
    };
    state.apply(DeviceEvent::LoadFailed { request, error }.into(), now(), &mut Vec::new());
    let error = state.devices.query_error.clone().unwrap();
    assert_eq!(error.column, Some(17));
    assert_eq!(state.devices.load.error().and_then(|error| error.status), Some(400));
}

#[test]
fn refresh_keeps_the_selection_of_devices_that_still_exist() {
    let mut state = AppState::default();
    let first = current_request(&connected(&mut state));
    state.apply(
        Event::Devices(DeviceEvent::Page { request: first, rows: vec![row("a", 1, "1"), row("b", 1, "1"), row("c", 1, "1")] }),
        now(),
        &mut Vec::new(),
    );
    state.apply(Event::Devices(DeviceEvent::LoadFinished { request: first, cancelled: false }), now(), &mut Vec::new());
    let view = state.devices.view_ids();
    state.devices.selection.select_all(&view);
    let mut out = Vec::new();
    state.refresh(&mut out);
    let second = current_request(&out);
    state.apply(
        Event::Devices(DeviceEvent::Page { request: second, rows: vec![row("b", 1, "1"), row("c", 1, "1")] }),
        now(),
        &mut Vec::new(),
    );
    state.apply(Event::Devices(DeviceEvent::LoadFinished { request: second, cancelled: false }), now(), &mut Vec::new());
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
    let Command::Devices(DeviceCommand::Load { request, returns_twins, count_query, .. }) = out[0].clone() else {
        panic!("a device load, got {out:?}")
    };
    assert!(!returns_twins);
    assert_eq!(count_query, None);
    state.apply(
        Event::Devices(DeviceEvent::RawPage { request, rows: vec![json!({"building": 43, "n": 2}), json!({"n": 1})] }),
        now(),
        &mut Vec::new(),
    );
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
    state.apply(Event::Client(ClientEvent::Call(call("get device", "a", 200, CallOutcome::Succeeded))), now(), &mut Vec::new());
    state.apply(Event::Client(ClientEvent::Call(call("get device", "b", 429, CallOutcome::WillRetry))), now(), &mut Vec::new());
    assert!(state.notices.is_empty(), "a retried attempt is not a failure yet");
    state.apply(Event::Client(ClientEvent::Call(call("delete device", "c", 404, CallOutcome::Failed))), now(), &mut Vec::new());
    assert_eq!(state.activity.len(), 3);
    assert_eq!(state.notices.len(), 1);
    assert_eq!(state.notices[0].level, NoticeLevel::Error);
    assert!(state.notices[0].text.contains("delete device c failed: HTTP 404 it broke (Activity #2)"), "{}", state.notices[0].text);
    assert_eq!(state.status.last_error.as_ref().map(|(seq, _)| *seq), Some(2));
    // A stale etag is the caller's to explain (conflict view, per-device failures): logged only.
    state.apply(Event::Client(ClientEvent::Call(call("patch twin", "d", 412, CallOutcome::Failed))), now(), &mut Vec::new());
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
    state.apply(Event::Client(ClientEvent::RetryWaiting(notice)), now(), &mut Vec::new());
    assert!(state.status.retry.is_some());
    state.apply(Event::Client(ClientEvent::Call(call("query devices", "q", 200, CallOutcome::Succeeded))), now(), &mut Vec::new());
    assert!(state.status.retry.is_none());
}

#[test]
fn switching_profiles_clears_the_other_hubs_devices() {
    let mut state = AppState::default();
    let request = current_request(&connected(&mut state));
    state.apply(Event::Devices(DeviceEvent::Page { request, rows: vec![row("a", 1, "1")] }), now(), &mut Vec::new());
    state.devices.query_input = "tags.building = 1".into();
    state.apply(ConnectionEvent::Connecting(ProfileId("prod".into())).into(), now(), &mut Vec::new());
    assert!(state.devices.rows.is_empty());
    assert_eq!(state.devices.query_input, "tags.building = 1", "the query bar is kept");
    assert_eq!(state.profiles.active, ProfileId("prod".into()));
}

#[test]
fn an_action_refreshes_and_reports() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    let (first, second) = (state.devices.actions.start(), state.devices.actions.start());
    let done = DeviceEvent::ActionDone { request: first, summary: "Deleted 2 devices".into(), failures: vec![] };
    state.apply(done.into(), now(), &mut out);
    assert!(matches!(out.last(), Some(Command::Devices(DeviceCommand::Load { .. }))), "{out:?}");
    assert_eq!(state.notices.last().unwrap().level, NoticeLevel::Success);
    let partly = DeviceEvent::ActionDone {
        request: second,
        summary: "Deleted 1 of 2 devices".into(),
        failures: vec!["x: PreconditionFailed".into()],
    };
    state.apply(partly.into(), now(), &mut out);
    assert!(state.notices.last().unwrap().text.contains("x: PreconditionFailed"));
}

#[test]
fn a_late_device_action_of_the_previous_hub_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let request = state.devices.actions.start();
    connected_to(&mut state, &ProfileId::simulator(), "contoso-west");
    let mut out = Vec::new();
    let late = DeviceEvent::ActionDone { request, summary: "Deleted 2 devices".into(), failures: vec![] };
    state.apply(late.into(), now(), &mut out);
    assert!(state.notices.iter().all(|notice| !notice.text.contains("Deleted")), "{:?}", state.notices);
    assert!(out.is_empty(), "no refresh for an east action on west: {out:?}");
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
    state.enrollments.lists = Loadable::Loaded(EnrollmentLists { individuals: vec![enrollment], ..EnrollmentLists::default() });
    let mut out = Vec::new();
    state.open_enrollment(EnrollmentKind::Individual, "door-1", &mut out);
    state.enrollments.editor.as_mut().unwrap().policy = PolicyChoice::Reset;
    state.apply(ConnectionEvent::Connecting(ProfileId("staging".into())).into(), now(), &mut out);
    assert!(state.enrollments.editor.is_none(), "a draft is never saved to another profile's DPS");
    assert!(state.notices.iter().any(|notice| notice.text.contains("door-1") && notice.text.contains("were not sent")));
}

fn enrollment(id: &str) -> crate::azure::wire::IndividualEnrollment {
    serde_json::from_value(json!({"registrationId": id, "attestation": {"type": "symmetricKey"}, "etag": "\"e1\""})).unwrap()
}

/// The request id of the last command in `out`.
fn last_request(out: &[Command]) -> RequestId {
    out.last().and_then(Command::request).unwrap_or_else(|| panic!("the last command carries no request: {out:?}"))
}

#[test]
fn a_late_enrollment_list_of_the_previous_profile_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.load_enrollments(&mut out);
    let old = last_request(&out);
    connected_to(&mut state, &ProfileId("staging".into()), "staging-hub");
    let mut out = Vec::new();
    state.load_enrollments(&mut out);
    let new = last_request(&out);
    let late = EnrollmentLists { individuals: vec![enrollment("from-the-old-dps")], ..EnrollmentLists::default() };
    state.apply(DpsEvent::EnrollmentsLoaded { request: old, result: Ok(late) }.into(), now(), &mut Vec::new());
    assert!(state.enrollments.lists().individuals.is_empty(), "the previous profile's list is not shown");
    assert!(state.enrollments.lists.awaits(new), "the current load still waits");
    let current = EnrollmentLists { individuals: vec![enrollment("staging-door")], ..EnrollmentLists::default() };
    state.apply(DpsEvent::EnrollmentsLoaded { request: new, result: Ok(current) }.into(), now(), &mut Vec::new());
    assert_eq!(state.enrollments.lists().individuals[0].registration_id, "staging-door");
}

#[test]
fn a_late_job_list_of_the_previous_hub_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.load_jobs(&mut out);
    let old = last_request(&out);
    connected_to(&mut state, &ProfileId::simulator(), "contoso-west");
    assert!(state.jobs.list.is_idle(), "another hub starts with no jobs");
    let job: crate::azure::wire::JobResponse =
        serde_json::from_value(json!({"jobId": "east-job", "type": "scheduleDeviceMethod", "status": "completed"})).unwrap();
    state.apply(JobEvent::ListLoaded { request: old, result: Ok(vec![job]) }.into(), now(), &mut Vec::new());
    assert!(state.jobs.list.is_idle() && state.jobs.visible().is_empty(), "the east hub's jobs are not shown for west");
}

#[test]
fn a_late_twin_of_the_previous_hub_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.open_twin(Arc::from("door-1"), &mut out);
    let old = last_request(&out);
    connected_to(&mut state, &ProfileId::simulator(), "contoso-west");
    let mut out = Vec::new();
    state.open_twin(Arc::from("door-1"), &mut out);
    let twin: Twin = serde_json::from_value(json!({"deviceId": "door-1", "etag": "east", "tags": {"hub": "east"}})).unwrap();
    let late = TwinEvent::Loaded { request: old, device_id: Arc::from("door-1"), refresh: false, result: Ok(Box::new(twin)) };
    state.apply(late.into(), now(), &mut Vec::new());
    let editor = state.twin.as_ref().unwrap();
    assert!(!editor.is_ready() && editor.live.is_loading(), "the same device id on the east hub is another twin");
}

#[test]
fn late_details_of_an_earlier_load_are_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.devices.open_details(Arc::from("door-1"), &mut out);
    let old = last_request(&out);
    state.devices.open_details(Arc::from("door-1"), &mut out);
    let late = DeviceEvent::Details { request: old, device_id: Arc::from("door-1"), result: Err(AppError::local("gone")) };
    state.apply(late.into(), now(), &mut Vec::new());
    let details = state.devices.details.as_ref().unwrap();
    assert!(details.loaded.is_loading(), "the newer load still waits: {:?}", details.loaded);
}

#[test]
fn job_progress_is_sampled_at_the_time_given() {
    let mut state = AppState::default();
    connected(&mut state);
    state.open_job("j1".into(), &mut Vec::new());
    let job = |succeeded: u64| -> crate::azure::wire::JobResponse {
        serde_json::from_value(json!({"jobId": "j1", "type": "scheduleDeviceMethod", "status": "running",
            "deviceJobStatistics": {"deviceCount": 10, "succeededCount": succeeded, "failedCount": 0, "runningCount": 1, "pendingCount": 0}}))
        .unwrap()
    };
    let start = now();
    let watch = state.jobs.detail.as_ref().unwrap().watch.unwrap();
    state.apply(JobEvent::Progress { request: watch, job: Box::new(job(1)), rows: None }.into(), start, &mut Vec::new());
    let later = start.later(Duration::from_millis(2500));
    state.apply(JobEvent::Progress { request: watch, job: Box::new(job(4)), rows: None }.into(), later, &mut Vec::new());
    let samples = &state.jobs.detail.as_ref().unwrap().samples;
    assert_eq!(samples.iter().map(|sample| (sample.seconds, sample.succeeded)).collect::<Vec<_>>(), [(0.0, 1), (2.5, 4)]);
}

#[test]
fn an_update_of_an_earlier_watch_of_the_same_job_id_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let job: crate::azure::wire::JobResponse =
        serde_json::from_value(json!({"jobId": "j1", "type": "scheduleDeviceMethod", "status": "completed"})).unwrap();
    let mut out = Vec::new();
    state.open_job("j1".into(), &mut out);
    let first_watch = state.jobs.detail.as_ref().unwrap().watch.unwrap();
    // Another hub is shown (its jobs start empty), and a job with the same id is opened there.
    state.close_job(&mut out);
    state.open_job("j1".into(), &mut out);
    let second_watch = state.jobs.detail.as_ref().unwrap().watch.unwrap();
    assert_ne!(first_watch, second_watch);
    let late = JobEvent::Progress { request: first_watch, job: Box::new(job.clone()), rows: Some(Vec::new()) };
    state.apply(late.into(), now(), &mut Vec::new());
    let detail = state.jobs.detail.as_ref().unwrap();
    assert!(detail.job.is_none() && detail.samples.is_empty(), "the earlier watch's update was applied: {detail:?}");
    state.apply(JobEvent::Progress { request: second_watch, job: Box::new(job), rows: None }.into(), now(), &mut Vec::new());
    assert!(state.jobs.detail.as_ref().unwrap().job.is_some(), "the current watch's update is applied");
}

#[test]
fn a_late_target_preview_of_an_earlier_condition_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut draft = job_draft::NewJobDraft::new(Vec::new(), now().utc());
    draft.condition = "tags.building = 43".into();
    let mut out = Vec::new();
    draft.request_preview(&mut out);
    draft.condition = "tags.building = 44".into();
    draft.request_preview(&mut out);
    state.jobs.draft = Some(draft);
    let requests: Vec<RequestId> = out
        .iter()
        .filter_map(|command| match command {
            Command::Jobs(JobCommand::PreviewTargets { request, .. }) => Some(*request),
            _ => None,
        })
        .collect();
    let late = job_draft::TargetPreview { count: Some(12), first: vec!["b43-f1-lock-00001".into()] };
    state.apply(JobEvent::TargetPreview { request: requests[0], result: Ok(late) }.into(), now(), &mut Vec::new());
    let draft = state.jobs.draft.as_ref().unwrap();
    assert!(draft.preview.is_loading(), "building 43's count is not shown for building 44: {:?}", draft.preview);
    let current = job_draft::TargetPreview { count: Some(3), first: Vec::new() };
    state.apply(JobEvent::TargetPreview { request: requests[1], result: Ok(current) }.into(), now(), &mut Vec::new());
    assert_eq!(state.jobs.draft.as_ref().unwrap().preview.loaded().and_then(|preview| preview.count), Some(3));
}

#[test]
fn a_late_enrollment_lookup_of_the_previous_profile_is_dropped() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.find_enrollment(Arc::from("door-1"), &mut out);
    let old = last_request(&out);
    connected_to(&mut state, &ProfileId("staging".into()), "staging-hub");
    let found = Some(Box::new(AnyEnrollment::Individual(enrollment("door-1"))));
    state.apply(DpsEvent::EnrollmentFound { request: old, device_id: Arc::from("door-1"), result: Ok(found) }.into(), now(), &mut out);
    assert!(state.enrollments.editor.is_none(), "the previous profile's enrollment does not open");
    assert!(state.enrollments.lists().individuals.is_empty());
}

#[test]
fn a_late_enrollment_save_of_the_previous_profile_is_dropped() {
    use crate::app::model::reprovision_choice::PolicyChoice;
    let mut state = AppState::default();
    connected(&mut state);
    state.enrollments.lists = Loadable::Loaded(EnrollmentLists { individuals: vec![enrollment("door-1")], ..EnrollmentLists::default() });
    let mut out = Vec::new();
    state.open_enrollment(EnrollmentKind::Individual, "door-1", &mut out);
    let editor = state.enrollments.editor.as_mut().unwrap();
    editor.policy = PolicyChoice::Reset;
    editor.save(&mut out);
    let old = last_request(&out);
    // Another profile whose DPS also has a door-1, open in the editor.
    connected_to(&mut state, &ProfileId("staging".into()), "staging-hub");
    state.enrollments.lists = Loadable::Loaded(EnrollmentLists { individuals: vec![enrollment("door-1")], ..EnrollmentLists::default() });
    state.open_enrollment(EnrollmentKind::Individual, "door-1", &mut out);
    let mut saved = enrollment("door-1");
    saved.settings.etag = Some("\"old-dps-e2\"".into());
    let outcome = EnrollmentSaveOutcome::Saved(Box::new(AnyEnrollment::Individual(saved)));
    state.apply(DpsEvent::Saved { request: old, id: "door-1".into(), outcome }.into(), now(), &mut Vec::new());
    let editor = state.enrollments.editor.as_ref().unwrap();
    assert_eq!(editor.base.settings().etag.as_deref(), Some("\"e1\""), "the other DPS's save did not become this base");
    assert_eq!(state.enrollments.lists().individuals[0].settings.etag.as_deref(), Some("\"e1\""));
}

#[test]
fn a_late_job_creation_of_the_previous_hub_does_not_open_the_job() {
    let mut state = AppState::default();
    connected(&mut state);
    let mut out = Vec::new();
    state.create_jobs(Vec::new(), &mut out);
    let request = last_request(&out);
    connected_to(&mut state, &ProfileId::simulator(), "contoso-west");
    let job: crate::azure::wire::JobResponse =
        serde_json::from_value(json!({"jobId": "east-job", "type": "scheduleDeviceMethod", "status": "queued"})).unwrap();
    let mut out = Vec::new();
    state.apply(JobEvent::Created { request, results: vec![Ok(job)] }.into(), now(), &mut out);
    assert!(state.jobs.detail.is_none(), "east's job is not opened on west");
    assert!(out.is_empty(), "nothing is watched or reloaded: {out:?}");
}

/// A connected state with `ids` loaded (all connected, as [`row`] makes them).
fn loaded(ids: &[&str]) -> AppState {
    let mut state = AppState::default();
    let out = connected(&mut state);
    let request = current_request(&out);
    let rows = ids.iter().map(|id| row(id, 43, "1.0")).collect();
    state.apply(DeviceEvent::Page { request, rows }.into(), now(), &mut Vec::new());
    state.apply(DeviceEvent::LoadFinished { request, cancelled: false }.into(), now(), &mut Vec::new());
    state
}

fn live_poll(state: &mut AppState, at: Now, visible: std::ops::Range<usize>) -> (RequestId, Vec<live::LiveProbe>, bool) {
    let probes = state.devices.live_probes(visible);
    let mut out = Vec::new();
    assert!(state.devices.live.poll(at.instant, probes, &mut out), "a poll is due");
    match out.pop() {
        Some(Command::Devices(DeviceCommand::PollLive { request, probes, connections })) => (request, probes, connections),
        other => panic!("expected a live poll, got {other:?}"),
    }
}

fn real_connection(device_id: &str, protocol: crate::azure::wire::DeviceProtocol) -> crate::azure::wire::DeviceConnection {
    crate::azure::wire::DeviceConnection {
        device_id: device_id.into(),
        protocol,
        client_type: "azure-iot-device-py/2.14.0(Python 3.11.2;Linux;x86_64)".into(),
        api_version: "2019-10-01".into(),
        connected_since: crate::azure::wire::Timestamp::parse("2026-11-23T10:00:00Z").unwrap(),
    }
}

#[test]
fn a_live_poll_asks_about_the_rows_in_view_only() {
    let mut state = loaded(&["d0", "d1", "d2", "d3", "d4"]);
    state.devices.sort_by(SortColumn::DeviceId);
    state.devices.sort_by(SortColumn::DeviceId); // descending: d4 d3 d2 d1 d0
    state.devices.view();
    let (_, probes, connections) = live_poll(&mut state, now(), 1..3);
    let asked: Vec<(u32, &str)> = probes.iter().map(|probe| (probe.index, &*probe.device_id)).collect();
    assert_eq!(asked, vec![(3, "d3"), (2, "d2")]);
    assert!(probes.iter().all(|probe| probe.known.is_none()), "no change time known yet");
    assert!(connections, "the connections route is tried until the hub says it has none");
}

#[test]
fn a_live_answer_updates_rows_in_place_and_keeps_selection_sort_and_filter() {
    use crate::azure::wire::{ConnectionState, DeviceProtocol, Timestamp};
    let mut state = loaded(&["d0", "d1", "d2"]);
    state.devices.selection.select_only(&Arc::from("d1"));
    state.devices.sort_by(SortColumn::Connection);
    state.devices.set_id_filter("d".into());
    state.devices.view();
    let (request, probes, _) = live_poll(&mut state, now(), 0..3);
    let changed_at = Timestamp::parse("2026-11-23T11:00:00Z").unwrap();
    let rows = probes
        .iter()
        .map(|probe| live::LiveRow {
            index: probe.index,
            device_id: Arc::clone(&probe.device_id),
            connection_state: if &*probe.device_id == "d1" { ConnectionState::Disconnected } else { ConnectionState::Connected },
            since: Some(changed_at),
            last_activity: Some(changed_at),
        })
        .collect();
    let update = live::LiveUpdate {
        rows,
        connections: Some(vec![real_connection("d2", DeviceProtocol::MqttWebSocket)]),
        route: Some(live::ConnectionsRoute::Offered),
    };
    state.apply(DeviceEvent::Live { request, result: Ok(update) }.into(), now(), &mut Vec::new());
    let d1 = state.devices.row_by_id("d1").unwrap();
    assert_eq!((d1.connection_state, d1.connection_since), (ConnectionState::Disconnected, Some(changed_at)));
    assert_eq!(ids(&mut state), ["d0", "d2", "d1"], "re-sorted by connection: Connected before Disconnected");
    assert!(state.devices.selection.contains("d1"), "the selection stays");
    assert_eq!(state.devices.id_filter, "d");
    assert_eq!(state.devices.live.route, live::ConnectionsRoute::Offered);
    let real = state.devices.live.connection("d2").unwrap();
    assert_eq!(real.protocol.label(), "MQTT over WebSocket");
    assert_eq!(live::short_client(&real.client_type), "azure-iot-device-py/2.14.0");
    assert!(state.devices.live.in_flight.is_none());

    // The next poll knows the change times it has, so the identities are not read again.
    let (_, probes, _) = live_poll(&mut state, now().later(live::LIVE_INTERVAL), 0..3);
    assert!(probes.iter().all(|probe| probe.known.is_some()));
}

#[test]
fn connected_only_follows_the_live_state() {
    use crate::azure::wire::{ConnectionState, DeviceProtocol};
    let mut state = loaded(&["d0", "d1", "d2"]);
    state.devices.set_connected_only(true);
    assert_eq!(ids(&mut state), ["d0", "d1", "d2"]);
    let (request, probes, _) = live_poll(&mut state, now(), 0..3);
    let rows = probes
        .iter()
        .map(|probe| live::LiveRow {
            index: probe.index,
            device_id: Arc::clone(&probe.device_id),
            connection_state: ConnectionState::Disconnected,
            since: None,
            last_activity: None,
        })
        .collect();
    // d1 is reported disconnected by the registry, but a real device just connected as d1.
    let update = live::LiveUpdate {
        rows,
        connections: Some(vec![real_connection("d1", DeviceProtocol::Mqtt)]),
        route: Some(live::ConnectionsRoute::Offered),
    };
    state.apply(DeviceEvent::Live { request, result: Ok(update) }.into(), now(), &mut Vec::new());
    assert_eq!(ids(&mut state), ["d1"]);
    state.devices.set_connected_only(false);
    assert_eq!(ids(&mut state), ["d0", "d1", "d2"]);
}

#[test]
fn a_hub_without_the_connections_route_is_remembered_and_stale_polls_are_dropped() {
    let mut state = loaded(&["d0"]);
    let (request, probes, _) = live_poll(&mut state, now(), 0..1);
    let update = live::LiveUpdate { rows: Vec::new(), connections: None, route: Some(live::ConnectionsRoute::NotOffered) };
    state.apply(DeviceEvent::Live { request, result: Ok(update.clone()) }.into(), now(), &mut Vec::new());
    assert!(!state.devices.live.shows_protocol());
    assert!(state.notices.is_empty(), "a hub without the route is not an error to show");
    let (next, _, connections) = live_poll(&mut state, now().later(live::LIVE_INTERVAL), 0..1);
    assert!(!connections, "not asked again");

    // An answer of another hub (the page was reset since) changes nothing.
    connected_to(&mut state, &ProfileId::simulator(), "contoso-west");
    let late = live::LiveUpdate {
        rows: vec![live::LiveRow {
            index: 0,
            device_id: Arc::clone(&probes[0].device_id),
            connection_state: crate::azure::wire::ConnectionState::Disconnected,
            since: None,
            last_activity: None,
        }],
        ..update
    };
    state.apply(DeviceEvent::Live { request: next, result: Ok(late) }.into(), now(), &mut Vec::new());
    assert_eq!(state.devices.live.route, live::ConnectionsRoute::Unknown, "another hub is asked afresh");
}

#[test]
fn connect_a_device_reads_the_key_and_drops_a_late_answer() {
    use connect_device::{DeviceCredential, Snippets};
    let mut state = loaded(&["d0", "d1"]);
    let mut out = Vec::new();
    state.open_connect_device(Arc::from("d0"), &mut out);
    let Some(Command::Devices(DeviceCommand::LoadCredential { request: first, device_id })) = out.pop() else {
        panic!("the key is read on demand");
    };
    assert_eq!(&*device_id, "d0");
    state.open_connect_device(Arc::from("d1"), &mut out);
    let Some(Command::Devices(DeviceCommand::LoadCredential { request: second, .. })) = out.pop() else {
        panic!("the key is read on demand");
    };
    let key = DeviceCredential::SymmetricKey(crate::azure::secret::Secret::new("a2V5"));
    state.apply(DeviceEvent::Credential { request: first, device_id: "d0".into(), result: Ok(key.clone()) }.into(), now(), &mut out);
    let dialog = state.connect_device.as_ref().unwrap();
    assert!(dialog.credential.is_loading(), "d0's key does not land in d1's dialog");
    state.apply(DeviceEvent::Credential { request: second, device_id: "d1".into(), result: Ok(key) }.into(), now(), &mut out);
    let dialog = state.connect_device.as_ref().unwrap();
    assert!(!dialog.reveal, "the key is masked until asked");
    let Some(DeviceCredential::SymmetricKey(secret)) = dialog.credential.value() else { panic!("a key") };
    let snippets = Snippets::build(&dialog.device_id, secret.expose(), &state.device_side);
    assert_eq!(
        snippets.hubdeck,
        "hubdeck device --connection-string \"HostName=localhost;DeviceId=d1;SharedAccessKey=a2V5\" --ca-file /sim/ca.pem"
    );
    assert!(!format!("{state:?}").contains("a2V5"), "the key never shows in Debug output");

    connected_to(&mut state, &ProfileId::simulator(), "contoso-west");
    assert!(state.connect_device.is_none(), "another hub's device and key are not kept");
}
