//! Registry, twin read, statistics and query operations.

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::response::{empty, encoding_failed, json, with_body};
use super::{Call, Route};
use crate::azure::wire::{
    CONTINUATION_HEADER, Device, ErrorCode, ExportImportDevice, ITEM_TYPE_HEADER, MAX_ITEM_COUNT_HEADER, ServiceStatistics,
};
use crate::sim::clock::now_ticks;
use crate::sim::error::HubError;
use crate::sim::hub::Hub;
use crate::sim::precondition::Precondition;
use crate::sim::query::{PageItems, run_query_with_jobs};
use crate::sim::registry::{Changes, Registry, SectionWrite, TwinWrite};
use crate::sim::twin_json::TwinJson;

/// Runs one routed operation.
pub async fn run(hub: &Hub, route: Route, call: Call) -> Result<Response, HubError> {
    let precondition = call.head.precondition.clone();
    match route {
        Route::ListDevices => {
            let top = match call.query("top") {
                Some(top) => Some(top.parse::<usize>().map_err(|_| HubError::invalid(format!("top must be a number, not '{top}'")))?),
                None => None,
            };
            json(StatusCode::OK, &hub.read(|registry| registry.list(top)))
        }
        Route::GetDevice(device_id) => {
            json(StatusCode::OK, &hub.read(|registry| registry.get(&device_id).map(crate::sim::record::DeviceRecord::to_device))?)
        }
        Route::PutDevice(device_id) => {
            let body: Device = call.json("a Device object")?;
            let now = now_ticks();
            let device = hub
                .write(|registry| {
                    let record = registry.put_device(&device_id, &body, precondition.as_ref(), now)?;
                    Ok((record.to_device(), Changes::upsert(&device_id)))
                })
                .await?;
            json(StatusCode::OK, &device)
        }
        Route::DeleteDevice(device_id) => {
            hub.write(|registry| {
                registry.delete(&device_id, precondition.as_ref())?;
                Ok(((), Changes { deleted: vec![device_id.clone()], ..Changes::default() }))
            })
            .await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Route::BulkDevices => {
            let items: Vec<ExportImportDevice> = call.json("an array of ExportImportDevice objects")?;
            // A bulk call counts one registry operation per device; admission took the first.
            hub.quotas().admit_registry(u32::try_from(items.len().saturating_sub(1)).unwrap_or(u32::MAX))?;
            let now = now_ticks();
            let result = hub.write(|registry| registry.bulk(&items, now)).await?;
            let status = if result.is_successful { StatusCode::OK } else { StatusCode::BAD_REQUEST };
            json(status, &result)
        }
        Route::GetTwin(device_id) => {
            let bytes = hub
                .read(|registry| registry.get(&device_id).map(|record| serde_json::to_vec(&TwinJson(record))))?
                .map_err(|error| encoding_failed(&error))?;
            Ok(with_body(StatusCode::OK, bytes))
        }
        Route::PatchTwin(device_id) => write_twin(hub, &call, &device_id, precondition.as_ref(), TwinWrite::parse_patch).await,
        Route::ReplaceTwin(device_id) => write_twin(hub, &call, &device_id, precondition.as_ref(), TwinWrite::parse_replace).await,
        Route::DeviceStatistics => json(StatusCode::OK, &hub.read(Registry::statistics)),
        Route::ServiceStatistics => {
            json(StatusCode::OK, &ServiceStatistics { connected_device_count: hub.read(Registry::connected_count) })
        }
        Route::QueryDevices => query(hub, &call),
        Route::DeviceConnections => json(StatusCode::OK, &hub.devices().list()),
        other => Err(HubError::new(ErrorCode::InvalidOperation, format!("{other:?} is not a registry operation"))),
    }
}

#[derive(Deserialize)]
struct QueryBody {
    query: String,
}

fn query(hub: &Hub, call: &Call) -> Result<Response, HubError> {
    let body: QueryBody = call.json("{\"query\": \"SELECT …\"}")?;
    let page_size = match call.header(MAX_ITEM_COUNT_HEADER) {
        Some(text) => match text.trim().parse::<usize>() {
            Ok(0) => None,
            Ok(size) => Some(size),
            Err(_) => {
                return Err(HubError::new(ErrorCode::ArgumentInvalid, format!("{MAX_ITEM_COUNT_HEADER} must be a number, not '{text}'")));
            }
        },
        None => None,
    };
    let continuation = call.header(CONTINUATION_HEADER);
    let page = hub.read(|registry| run_query_with_jobs(registry, || hub.jobs().device_rows(), &body.query, page_size, continuation))?;
    let bytes = match page.items {
        PageItems::Twins(bytes) => Ok(bytes),
        PageItems::Raw(rows) => serde_json::to_vec(&rows),
    }
    .map_err(|error| encoding_failed(&error))?;
    // Queries against devices are charged by the size of what they return.
    hub.quotas().charge_messages(hub.quotas().meter().chunks(bytes.len()));
    let mut response = with_body(StatusCode::OK, bytes);
    let headers = response.headers_mut();
    headers.insert(ITEM_TYPE_HEADER, header::HeaderValue::from_static(page.item_type.as_str()));
    if let Some(token) = page.continuation
        && let Ok(value) = header::HeaderValue::from_str(&token)
    {
        headers.insert(CONTINUATION_HEADER, value);
    }
    Ok(response)
}

/// `PATCH` / `PUT /twins/{id}`: the answer is the full twin after the write.
async fn write_twin(
    hub: &Hub,
    call: &Call,
    device_id: &str,
    precondition: Option<&Precondition>,
    parse: fn(&serde_json::Value) -> Result<TwinWrite, HubError>,
) -> Result<Response, HubError> {
    let body: serde_json::Value = call.json("a twin with tags and/or properties.desired")?;
    let write = parse(&body)?;
    let now = now_ticks();
    let bytes = hub
        .write(|registry| {
            let record = registry.write_twin(device_id, &write, precondition, now)?;
            let bytes = serde_json::to_vec(&TwinJson(record)).map_err(|error| encoding_failed(&error))?;
            let mut changes = Changes::upsert(device_id);
            if write.desired != SectionWrite::Untouched {
                changes.desired_changed.push(device_id.to_owned());
            }
            Ok((bytes, changes))
        })
        .await?;
    // A twin update is charged by its patch's size.
    hub.quotas().charge_messages(hub.quotas().meter().chunks(call.body.len()));
    Ok(with_body(StatusCode::OK, bytes))
}
