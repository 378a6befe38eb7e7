//! Custom allocation (a webhook, as DPS's custom allocation policy calls it): POST an `AllocationRequest` to the enrollment's webhook
//! and read the `AllocationResponse` — the hub (field name matched case-insensitively), an
//! optional initial twin that overrides the enrollment's, and a payload for the device.

use serde_json::{Value, json};

use super::register::{Attested, Failure, RegisterRequest};
use super::service::Dps;
use crate::azure::wire::InitialTwin;

/// What the webhook decided.
pub struct WebhookAnswer {
    /// The hub (one of the linked hubs offered).
    pub hub: String,
    /// Overrides the enrollment's initial twin.
    pub initial_twin: Option<InitialTwin>,
    /// Relayed to the device as `registrationState.payload`.
    pub payload: Option<Value>,
}

fn failed(message: String) -> Failure {
    Failure::Failed { code: 400_211, message }
}

/// Calls the webhook of `attested`'s enrollment.
pub async fn call(
    dps: &Dps,
    attested: &Attested,
    request: &RegisterRequest,
    current_hub: Option<&str>,
    enrollment_hubs: &[String],
) -> Result<WebhookAnswer, Failure> {
    let definition = attested.settings.custom_allocation_definition.as_ref();
    let url = definition.and_then(|definition| definition.get("webhookUrl")).and_then(Value::as_str).filter(|url| !url.trim().is_empty());
    let Some(url) = url else {
        return Err(failed("custom allocation needs customAllocationDefinition.webhookUrl on the enrollment; none is set".to_owned()));
    };
    let linked: Vec<String> =
        if enrollment_hubs.is_empty() { dps.hubs().iter().map(|hub| hub.host_name.clone()).collect() } else { enrollment_hubs.to_vec() };
    let enrollment = dps.read(|state| match &attested.group_id {
        Some(group_id) => state.groups.get(group_id).ok().map(|group| ("enrollmentGroup", serde_json::to_value(group))),
        None => state
            .enrollments
            .get(&attested.registration_id)
            .ok()
            .map(|enrollment| ("individualEnrollment", serde_json::to_value(enrollment))),
    });
    let mut context = json!({"registrationId": attested.registration_id, "symmetricKey": {}});
    if let Some(hub) = current_hub {
        context["currentIotHubHostName"] = json!(hub);
        context["currentDeviceId"] = json!(attested.device_id);
    }
    if let Some(payload) = &request.payload {
        context["payload"] = payload.clone();
    }
    let mut body = json!({"deviceRuntimeContext": context, "linkedHubs": linked});
    if let Some((field, Ok(value))) = enrollment {
        body[field] = value;
    }
    let response = dps
        .webhook_client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|error| failed(format!("the custom allocation webhook at {url} could not be reached: {error}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("the custom allocation webhook at {url} answered HTTP {}", status.as_u16())));
    }
    let answer: Value =
        response.json().await.map_err(|error| failed(format!("the custom allocation webhook at {url} did not answer JSON: {error}")))?;
    let field = |name: &str| {
        answer.as_object().and_then(|object| object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name))).map(|(_, value)| value)
    };
    let hub = field("iotHubHostName")
        .and_then(Value::as_str)
        .ok_or_else(|| failed(format!("the custom allocation webhook at {url} named no iotHubHostName")))?;
    if !linked.iter().any(|linked| linked.eq_ignore_ascii_case(hub)) {
        return Err(failed(format!(
            "the custom allocation webhook chose '{hub}', which is not one of the linked hubs ({})",
            linked.join(", ")
        )));
    }
    let initial_twin = match field("initialTwin") {
        Some(Value::Null) | None => None,
        Some(twin) => Some(
            serde_json::from_value(twin.clone()).map_err(|error| failed(format!("the webhook's initialTwin is not a twin: {error}")))?,
        ),
    };
    Ok(WebhookAnswer { hub: hub.to_owned(), initial_twin, payload: field("payload").cloned().filter(|payload| !payload.is_null()) })
}
