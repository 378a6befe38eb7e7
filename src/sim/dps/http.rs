//! DPS behind the request front end: the service API 2021-10-01 (enrollments, groups,
//! registration records) and the device registration API, on the same listener as the first hub.
//! Requests are routed by `route.rs` and, for the service API, authorized before their body is
//! read; every answer carries `x-ms-request-id`.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde_json::Value;

use super::enrollments::{Enrollment, EnrollmentTable};
use super::error::{DpsError, uuid_like};
use super::register::RegisterRequest;
use super::route::DpsRoute;
use super::route::EnrollmentKind::{Group, Individual};
use super::service::{Dps, DpsState};
use crate::azure::wire::{
    BulkEnrollmentOperation, BulkEnrollmentOperationError, BulkEnrollmentOperationResult, EnrollmentGroup, IndividualEnrollment,
    RegistrationStatus, Timestamp,
};
use crate::sim::http::api::Api;
use crate::sim::http::api_version::ApiVersions;
use crate::sim::http::{Call, FrontEnd, Head, empty, json_or};

/// Page size when the caller sends no `x-ms-max-item-count`.
const DEFAULT_PAGE_SIZE: usize = 100;

/// The DPS service and device registration APIs.
pub struct DpsApi<'a>(pub &'a Arc<Dps>);

impl Api for DpsApi<'_> {
    type Error = DpsError;
    type Admitted = DpsRoute;
    const FRONT: FrontEnd = FrontEnd {
        // Any version: the registration API answers by it (substatus), the service API ignores it.
        api_versions: ApiVersions { dates: None, example: "2021-10-01" },
        // The service's message limit.
        max_body_bytes: 96 * 1024,
    };

    /// Routes and, for the service API, checks the policy token before the body is read; the
    /// registration API checks the device's own token when it runs.
    async fn admit(&self, head: &Head) -> Result<DpsRoute, DpsError> {
        let route = DpsRoute::parse(&head.method, &head.path)?;
        if let Some(permission) = route.permission() {
            self.0.authorize(head.authorization(), permission)?;
            // Only the service API counts as service operations; the device API has its own limits.
            self.0.throttles().admit_service_operation()?;
        }
        Ok(route)
    }

    async fn run(&self, route: DpsRoute, call: Call) -> Result<Response, DpsError> {
        serve(self.0, route, &call).await
    }

    /// Every answer carries a request id; an error's is its tracking id, already set.
    fn finish(&self, response: &mut Response) {
        if let Ok(value) = HeaderValue::from_str(&uuid_like()) {
            response.headers_mut().entry("x-ms-request-id").or_insert(value);
        }
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Result<Response, DpsError> {
    json_or(status, body)
}

fn individual(state: &mut DpsState) -> &mut EnrollmentTable<IndividualEnrollment> {
    &mut state.enrollments
}

fn groups(state: &mut DpsState) -> &mut EnrollmentTable<EnrollmentGroup> {
    &mut state.groups
}

/// Runs an admitted operation (the service API's permission is already checked).
async fn serve(dps: &Arc<Dps>, route: DpsRoute, call: &Call) -> Result<Response, DpsError> {
    match route {
        DpsRoute::Bulk(Individual) => bulk(dps, call, individual).await,
        DpsRoute::Bulk(Group) => bulk(dps, call, groups).await,
        DpsRoute::Query(Individual) => {
            let items = dps.read(|state| state.enrollments.list().into_iter().map(|item| with_registration(state, item)).collect());
            page(items, call, "Enrollment")
        }
        DpsRoute::Query(Group) => page(dps.read(|state| state.groups.list()), call, "EnrollmentGroup"),
        DpsRoute::Attestation(Individual, id) => {
            json(StatusCode::OK, &dps.read(|state| state.enrollments.get_with_keys(&id).map(|item| item.attestation.clone()))?)
        }
        DpsRoute::Attestation(Group, id) => {
            json(StatusCode::OK, &dps.read(|state| state.groups.get_with_keys(&id).map(|item| item.attestation.clone()))?)
        }
        DpsRoute::Get(Individual, id) => get(dps, &id, individual, with_registration),
        DpsRoute::Get(Group, id) => get(dps, &id, groups, |_, item| item),
        DpsRoute::Put(Individual, id) => put(dps, call, id, individual, "an IndividualEnrollment").await,
        DpsRoute::Put(Group, id) => put(dps, call, id, groups, "an EnrollmentGroup").await,
        DpsRoute::Delete(Individual, id) => delete(dps, call, id, individual).await,
        DpsRoute::Delete(Group, id) => delete(dps, call, id, groups).await,
        DpsRoute::QueryGroupRegistrations(group_id) => {
            let records = dps.read(|state| state.groups.get(&group_id).map(|_| state.group_records(&group_id)))?;
            page(records, call, "DeviceRegistration")
        }
        DpsRoute::GetRegistration(id) => {
            let record = dps.read(|state| state.registrations.get(&id.to_lowercase()).map(|record| record.state.clone()));
            json(StatusCode::OK, &record.ok_or_else(|| DpsError::registration_not_found(&id))?)
        }
        DpsRoute::DeleteRegistration(id) => {
            let precondition = call.head.precondition.clone();
            dps.change(move |state| {
                let record = state.registrations.get(&id.to_lowercase()).ok_or_else(|| DpsError::registration_not_found(&id))?;
                if precondition.is_some_and(|precondition| !precondition.matches_optional(record.state.etag.as_deref())) {
                    return Err(DpsError::new(412_002, "the etag does not match the registration record's; read it again and retry"));
                }
                state.registrations.remove(&id.to_lowercase());
                Ok(())
            })
            .await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        DpsRoute::Register { scope, registration_id } => register(dps, call, &scope, &registration_id),
        DpsRoute::OperationStatus { scope, registration_id, operation_id } => {
            check_scope(dps, &scope)?;
            let status = dps.operation(call.authorization(), &registration_id, &operation_id)?;
            let code = if status.status == RegistrationStatus::Assigning { StatusCode::ACCEPTED } else { StatusCode::OK };
            let mut response = json(code, &status)?;
            if code == StatusCode::ACCEPTED {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(dps_retry_after(dps)));
            }
            Ok(response)
        }
        DpsRoute::Lookup { scope, registration_id } => {
            check_scope(dps, &scope)?;
            json(StatusCode::OK, &dps.lookup(call.authorization(), &registration_id)?)
        }
    }
}

fn dps_retry_after(dps: &Dps) -> u32 {
    dps.config.retry_after_secs
}

fn check_scope(dps: &Dps, scope: &str) -> Result<(), DpsError> {
    if scope.eq_ignore_ascii_case(dps.id_scope()) {
        Ok(())
    } else {
        Err(DpsError::new(404_204, format!("no DPS instance has ID scope '{scope}'; this one is '{}'", dps.id_scope())))
    }
}

fn register(dps: &Arc<Dps>, call: &Call, scope: &str, registration_id: &str) -> Result<Response, DpsError> {
    check_scope(dps, scope)?;
    // Devices may send no body at all: the registration id is in the path.
    let body: Value = if call.body_is_empty() { Value::Null } else { call.json("a DeviceRegistration object")? };
    if let Some(named) = body.get("registrationId").and_then(Value::as_str)
        && !named.eq_ignore_ascii_case(registration_id)
    {
        return Err(DpsError::bad_request(format!(
            "the registrationId in the body ('{named}') must equal the one in the path ('{registration_id}')"
        )));
    }
    let payload = body.get("payload").cloned().filter(|payload| !payload.is_null());
    if payload.as_ref().is_some_and(|payload| !payload.is_object()) {
        return Err(DpsError::bad_request("payload must be a JSON object"));
    }
    let request = RegisterRequest {
        registration_id: registration_id.to_owned(),
        authorization: call.authorization().map(str::to_owned),
        api_version: call.head.api_version.clone(),
        payload,
        simulated: None,
    };
    let status = dps.start_registration(request)?;
    let mut response = json(StatusCode::ACCEPTED, &status)?;
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(dps_retry_after(dps)));
    Ok(response)
}

/// An individual enrollment as GET and query answer it: with its current registration record.
fn with_registration(state: &DpsState, mut item: IndividualEnrollment) -> IndividualEnrollment {
    item.registration_state = state.registrations.get(&item.registration_id.to_lowercase()).map(|record| record.state.clone());
    item
}

fn get<E: Enrollment + Serialize>(
    dps: &Dps,
    id: &str,
    table: fn(&mut DpsState) -> &mut EnrollmentTable<E>,
    decorate: fn(&DpsState, E) -> E,
) -> Result<Response, DpsError> {
    let item = {
        let mut state = dps.state.lock();
        let item = table(&mut state).get(id)?;
        decorate(&state, item)
    };
    json(StatusCode::OK, &item)
}

async fn put<E: Enrollment + Serialize>(
    dps: &Dps,
    call: &Call,
    id: String,
    table: fn(&mut DpsState) -> &mut EnrollmentTable<E>,
    what: &'static str,
) -> Result<Response, DpsError> {
    let item: E = call.json(what)?;
    let precondition = call.head.precondition.clone();
    let saved =
        dps.change(move |state| table(state).put(&id, item, precondition.as_ref(), Timestamp::now()).map_err(DpsError::from)).await?;
    json(StatusCode::OK, &saved)
}

async fn delete<E: Enrollment>(
    dps: &Dps,
    call: &Call,
    id: String,
    table: fn(&mut DpsState) -> &mut EnrollmentTable<E>,
) -> Result<Response, DpsError> {
    let precondition = call.head.precondition.clone();
    dps.change(move |state| table(state).delete(&id, precondition.as_ref()).map_err(DpsError::from)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn bulk<E: Enrollment + Serialize>(
    dps: &Arc<Dps>,
    call: &Call,
    table: fn(&mut DpsState) -> &mut EnrollmentTable<E>,
) -> Result<Response, DpsError> {
    let operation: BulkEnrollmentOperation = call.json("a bulk enrollment operation {mode, enrollments | enrollmentGroups}")?;
    let is_group = E::KIND == "enrollment group";
    let raw = if is_group {
        serde_json::to_value(operation.enrollment_groups.unwrap_or_default())
    } else {
        serde_json::to_value(operation.enrollments.unwrap_or_default())
    }
    // Re-encoding what was just decoded fails only if the simulator is broken: a server error.
    .map_err(|error| DpsError::from(crate::sim::http::response::encoding_failed(&error)))?;
    let items: Vec<E> = serde_json::from_value(raw).map_err(|error| DpsError::bad_request(error.to_string()))?;
    if items.is_empty() {
        return Err(DpsError::bad_request(format!(
            "the bulk operation lists no {}",
            if is_group { "enrollmentGroups" } else { "enrollments" }
        )));
    }
    let mode = operation.mode;
    let failures = dps.change(move |state| table(state).bulk(&mode, items, Timestamp::now()).map_err(DpsError::from)).await?;
    let errors: Vec<BulkEnrollmentOperationError> = failures
        .into_iter()
        .map(|(id, error)| {
            let error = DpsError::from(error);
            BulkEnrollmentOperationError {
                registration_id: (!is_group).then(|| id.clone()),
                enrollment_group_id: is_group.then_some(id),
                error_code: i64::from(error.code),
                error_status: error.message,
            }
        })
        .collect();
    json(StatusCode::OK, &BulkEnrollmentOperationResult { is_successful: errors.is_empty(), errors })
}

/// One page of a query: `x-ms-max-item-count` items from the `x-ms-continuation` offset.
fn page<T: Serialize>(items: Vec<T>, call: &Call, item_type: &str) -> Result<Response, DpsError> {
    let size = match call.header("x-ms-max-item-count").map(str::trim) {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|size| *size > 0)
            .ok_or_else(|| DpsError::bad_request(format!("x-ms-max-item-count '{text}' must be a positive number")))?,
    };
    let start = match call.header("x-ms-continuation").map(str::trim).filter(|token| !token.is_empty()) {
        None => 0,
        Some(token) => BASE64
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<usize>().ok())
            .ok_or_else(|| DpsError::bad_request("x-ms-continuation is not a token this service handed out"))?,
    };
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let mut response = json(StatusCode::OK, &page)?;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(item_type) {
        headers.insert("x-ms-item-type", value);
    }
    headers.insert("x-ms-max-item-count", HeaderValue::from(size));
    if end < total
        && let Ok(value) = HeaderValue::from_str(&BASE64.encode(end.to_string()))
    {
        headers.insert("x-ms-continuation", value);
    }
    Ok(response)
}
