//! Device work run as tasks off the supervisor loop: paging a query, counting, and the
//! device actions. Each reports back through the event sink.

use std::sync::Arc;

use futures_util::StreamExt as _;
use serde_json::Value;

use super::sink::EventSink;
use crate::app::model::connect_device::{DeviceCredential, device_host};
use crate::app::model::job_draft::split_device_conditions;
use crate::app::model::live::{ConnectionsRoute, LiveProbe, LiveRow, LiveUpdate};
use crate::app::model::{AppError, DeleteTarget, DeviceEvent, DeviceRow, RequestId};
use crate::azure::hub::MAX_BULK_ITEMS;
use crate::azure::secret::Secret;
use crate::azure::wire::{ConnectionState, Device, DeviceStatus, ExportImportDevice, ImportMode, Timestamp, Twin};
use crate::azure::{AzureError, HubClient, IfMatch};

/// The first page is small so rows show at once; later pages are big to save round trips.
const FIRST_PAGE_SIZE: u32 = 100;
/// Page size after the first.
const PAGE_SIZE: u32 = 1000;
/// Devices changed at the same time by enable/disable.
const ACTION_CONCURRENCY: usize = 8;
/// Identities read at the same time by a live poll (for `connectionStateUpdatedTime`).
const LIVE_CONCURRENCY: usize = 4;
/// Longest `deviceId IN […]` condition of a live poll's query (the service's limit is 8 KB).
const LIVE_CONDITION_BYTES: usize = 6000;

/// The service's own message when it answered, else the error's text (per-device failure lines).
fn message_of(error: &AzureError) -> String {
    AppError::from(error).message
}

/// Pages through `query`, sending rows as they arrive; counts in parallel.
pub async fn load_devices(
    client: HubClient,
    sink: EventSink,
    request: RequestId,
    query: String,
    count_query: Option<String>,
    returns_twins: bool,
) {
    let count = count_query.map(|count_query| {
        let (client, sink) = (client.clone(), sink.clone());
        tokio::spawn(async move {
            if let Ok(page) = client.query_page::<Value>(&count_query, None, None).await
                && let Some(total) = page.items.first().and_then(|row| row.get("total")).and_then(Value::as_u64)
            {
                sink.send(DeviceEvent::Total { request, total }.into()).await;
            }
        })
    });
    let mut continuation: Option<String> = None;
    let mut page_size = FIRST_PAGE_SIZE;
    loop {
        let event = if returns_twins {
            match client.query_page::<Twin>(&query, Some(page_size), continuation.as_deref()).await {
                Ok(page) => {
                    continuation = page.continuation;
                    Ok(DeviceEvent::Page { request, rows: page.items.iter().map(DeviceRow::from_twin).collect() })
                }
                Err(error) => Err(error),
            }
        } else {
            match client.query_page::<Value>(&query, Some(page_size), continuation.as_deref()).await {
                Ok(page) => {
                    continuation = page.continuation;
                    Ok(DeviceEvent::RawPage { request, rows: page.items })
                }
                Err(error) => Err(error),
            }
        };
        match event {
            Ok(event) => sink.send(event.into()).await,
            Err(error) => {
                if let Some(count) = count {
                    count.abort();
                }
                sink.send(DeviceEvent::LoadFailed { request, error: AppError::from(&error) }.into()).await;
                return;
            }
        }
        if continuation.is_none() {
            break;
        }
        page_size = PAGE_SIZE;
    }
    if let Some(count) = count {
        count.await.ok();
    }
    sink.send(DeviceEvent::LoadFinished { request, cancelled: false }.into()).await;
}

/// Registers one device.
pub async fn create_device(client: HubClient, sink: EventSink, request: RequestId, device_id: String, keys: Option<(Secret, Secret)>) {
    let device = match keys {
        Some((primary, secondary)) => Device::new_with_keys(&device_id, primary, secondary),
        None => Device::new_with_generated_keys(&device_id),
    };
    let event = match client.create_device(&device).await {
        Ok(_) => DeviceEvent::ActionDone { request, summary: format!("Added device {device_id}"), failures: Vec::new() },
        Err(error) => {
            DeviceEvent::ActionDone { request, summary: format!("Could not add {device_id}"), failures: vec![message_of(&error)] }
        }
    };
    sink.send(event.into()).await;
}

/// Enables or disables devices: each is read (for its keys and etag) and written back with
/// `If-Match`, so a concurrent change makes that device fail instead of being overwritten.
pub async fn set_enabled(client: HubClient, sink: EventSink, request: RequestId, device_ids: Vec<Arc<str>>, enabled: bool) {
    let status = if enabled { DeviceStatus::Enabled } else { DeviceStatus::Disabled };
    let total = device_ids.len();
    let failures: Vec<String> = futures_util::stream::iter(device_ids)
        .map(|device_id| {
            let client = client.clone();
            async move {
                let mut device = client.get_device(&device_id).await.map_err(|error| format!("{device_id}: {}", message_of(&error)))?;
                let etag = device.etag.clone().unwrap_or_default();
                device.status = status;
                if enabled {
                    device.status_reason = None;
                }
                client
                    .update_device(&device, IfMatch::Etag(etag))
                    .await
                    .map(drop)
                    .map_err(|error| format!("{device_id}: {}", message_of(&error)))
            }
        })
        .buffer_unordered(ACTION_CONCURRENCY)
        .filter_map(|result| async move { result.err() })
        .collect()
        .await;
    let verb = if enabled { "Enabled" } else { "Disabled" };
    let done = total - failures.len();
    sink.send(DeviceEvent::ActionDone { request, summary: format!("{verb} {done} of {total} device{}", plural(total)), failures }.into())
        .await;
}

/// Deletes devices with the etags they were listed with: one DELETE, or bulk calls of 100.
pub async fn delete_devices(client: HubClient, sink: EventSink, request: RequestId, targets: Vec<DeleteTarget>) {
    let total = targets.len();
    let mut failures = Vec::new();
    if let [single] = targets.as_slice() {
        let if_match = single.etag.as_deref().map_or(IfMatch::Any, |etag| IfMatch::Etag(etag.to_owned()));
        if let Err(error) = client.delete_device(&single.device_id, if_match).await {
            failures.push(format!("{}: {}", single.device_id, message_of(&error)));
        }
    } else {
        for chunk in targets.chunks(MAX_BULK_ITEMS) {
            let items: Vec<ExportImportDevice> = chunk
                .iter()
                .map(|target| {
                    let mode = if target.etag.is_some() { ImportMode::DeleteIfMatchETag } else { ImportMode::Delete };
                    let mut item = ExportImportDevice::new(target.device_id.to_string(), mode);
                    item.e_tag = target.etag.as_deref().map(str::to_owned);
                    item
                })
                .collect();
            match client.bulk(&items).await {
                Ok(result) => failures.extend(
                    result.errors.into_iter().map(|error| format!("{}: {} {}", error.device_id, error.error_code, error.error_status)),
                ),
                Err(error) => failures.extend(chunk.iter().map(|target| format!("{}: {}", target.device_id, message_of(&error)))),
            }
        }
    }
    let done = total - failures.len();
    sink.send(DeviceEvent::ActionDone { request, summary: format!("Deleted {done} of {total} device{}", plural(total)), failures }.into())
        .await;
}

/// Identity (with keys) and twin for the details panel.
pub async fn load_details(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>) {
    let (device, twin) = tokio::join!(client.get_device(&device_id), client.get_twin(&device_id));
    let result = match (device, twin) {
        (Ok(device), Ok(twin)) => Ok(Box::new((device, twin))),
        (Err(error), _) | (_, Err(error)) => Err(AppError::from(&error)),
    };
    sink.send(DeviceEvent::Details { request, device_id, result }.into()).await;
}

/// `HostName=…;DeviceId=…;SharedAccessKey=…` with the device's primary key.
pub async fn connection_string(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>) {
    let event = match client.get_device(&device_id).await {
        Ok(device) => match device.primary_key() {
            Some(key) => DeviceEvent::ConnectionString {
                request,
                // Device SDKs take no port in HostName.
                text: Secret::new(format!(
                    "HostName={};DeviceId={};SharedAccessKey={}",
                    device_host(client.host_name()),
                    device_id,
                    key.expose()
                )),
                device_id,
            },
            None => DeviceEvent::ActionDone {
                request,
                summary: format!("No connection string for {device_id}"),
                failures: vec!["the device authenticates with X.509, not a shared access key".to_owned()],
            },
        },
        Err(error) => DeviceEvent::ActionDone {
            request,
            summary: format!("No connection string for {device_id}"),
            failures: vec![message_of(&error)],
        },
    };
    sink.send(event.into()).await;
}

/// A device's key for "Connect a device…" (or why it has none).
pub async fn load_credential(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>) {
    let result = client.get_device(&device_id).await.map(|device| DeviceCredential::of(&device)).map_err(|error| AppError::from(&error));
    sink.send(DeviceEvent::Credential { request, device_id, result }.into()).await;
}

/// One live poll: the connection state and last activity of the rows in view (one projection
/// query), when their state last changed (the identity, read only for rows whose state is new to
/// the list), and — when asked — the real devices' connections from the simulator's own route.
pub async fn poll_live(client: HubClient, sink: EventSink, request: RequestId, probes: Vec<LiveProbe>, connections: bool) {
    let (rows, connections) =
        tokio::join!(live_rows(&client, probes), async { if connections { Some(client.device_connections().await) } else { None } });
    let result = match (rows, connections) {
        (Err(error), _) | (_, Some(Err(error))) => Err(AppError::from(&error)),
        (Ok(rows), None) => Ok(LiveUpdate { rows, connections: None, route: None }),
        (Ok(rows), Some(Ok(Some(list)))) => Ok(LiveUpdate { rows, connections: Some(list), route: Some(ConnectionsRoute::Offered) }),
        (Ok(rows), Some(Ok(None))) => Ok(LiveUpdate { rows, connections: None, route: Some(ConnectionsRoute::NotOffered) }),
    };
    sink.send(DeviceEvent::Live { request, result }.into()).await;
}

async fn live_rows(client: &HubClient, probes: Vec<LiveProbe>) -> Result<Vec<LiveRow>, AzureError> {
    let ids: Vec<Arc<str>> = probes.iter().map(|probe| Arc::clone(&probe.device_id)).collect();
    let mut found = std::collections::HashMap::new();
    for condition in split_device_conditions(&ids, LIVE_CONDITION_BYTES) {
        let query = format!("SELECT deviceId, connectionState, lastActivityTime FROM devices WHERE {condition}");
        let mut continuation = None;
        loop {
            let page = client.query_page::<Value>(&query, None, continuation.as_deref()).await?;
            for item in &page.items {
                let Some(device_id) = item.get("deviceId").and_then(Value::as_str) else {
                    continue;
                };
                let state = item
                    .get("connectionState")
                    .cloned()
                    .and_then(|value| serde_json::from_value::<ConnectionState>(value).ok())
                    .unwrap_or_default();
                let last_activity =
                    item.get("lastActivityTime").and_then(Value::as_str).and_then(Timestamp::parse).filter(|time| !time.is_never());
                found.insert(device_id.to_owned(), (state, last_activity));
            }
            continuation = page.continuation;
            if continuation.is_none() {
                break;
            }
        }
    }
    let rows: Vec<LiveRow> = futures_util::stream::iter(probes)
        .filter_map(|probe| {
            let found = found.get(&*probe.device_id).copied();
            async move {
                let (connection_state, last_activity) = found?; // deleted since it was listed
                Some((probe, connection_state, last_activity))
            }
        })
        .map(|(probe, connection_state, last_activity)| async move {
            // Twins and queries carry no `connectionStateUpdatedTime`: read the identity, but
            // only when the state is new to the row.
            let since = if probe.known == Some(connection_state) {
                None
            } else {
                client
                    .get_device(&probe.device_id)
                    .await
                    .ok()
                    .and_then(|device| device.connection_state_updated_time)
                    .filter(|time| !time.is_never())
            };
            LiveRow { index: probe.index, device_id: probe.device_id, connection_state, since, last_activity }
        })
        .buffered(LIVE_CONCURRENCY)
        .collect()
        .await;
    Ok(rows)
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
