//! Twin work for the editor: fetching a twin and saving a merge patch with `If-Match`; on 412
//! the current twin is fetched so the editor can show the conflict.

use std::sync::Arc;

use serde_json::Value;

use super::sink::EventSink;
use crate::app::model::{AppError, RequestId, TwinEvent, TwinSaveOutcome};
use crate::azure::{HubClient, IfMatch};

/// GET the twin.
pub async fn load_twin(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>, refresh: bool) {
    let result = client.get_twin(&device_id).await.map(Box::new).map_err(AppError::from);
    sink.send(TwinEvent::Loaded { request, device_id, refresh, result }.into()).await;
}

/// PATCH the twin with the draft's etag; a 412 brings back the twin as it is now.
pub async fn save_twin(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>, etag: Option<String>, patch: Value) {
    let if_match = etag.map_or(IfMatch::Any, IfMatch::Etag);
    let outcome = match client.patch_twin(&device_id, &patch, if_match).await {
        Ok(twin) => TwinSaveOutcome::Saved(Box::new(twin)),
        Err(error) if error.status() == Some(412) => match client.get_twin(&device_id).await {
            Ok(current) => TwinSaveOutcome::Conflict(Box::new(current)),
            Err(reread) => TwinSaveOutcome::Failed(
                AppError::from(&reread).context("someone else changed the twin, and it could not be read again to compare"),
            ),
        },
        Err(error) => TwinSaveOutcome::Failed(AppError::from(&error)),
    };
    sink.send(TwinEvent::Saved { request, device_id, outcome }.into()).await;
}
