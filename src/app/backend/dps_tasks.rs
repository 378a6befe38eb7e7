//! DPS work for the console: loading the enrollment lists (every page), saving one enrollment
//! with `If-Match` (keys read back first so an update never drops them), bulk policy changes,
//! registration records, keys for copying, "Re-register now", and finding a device's enrollment.

use std::sync::Arc;

use super::sink::EventSink;
use crate::app::model::{AnyEnrollment, AppError, DpsEvent, EnrollmentKind, EnrollmentSaveOutcome, RequestId};
use crate::azure::dps::MAX_BULK_ENROLLMENTS;
use crate::azure::wire::{
    AttestationMechanism, CloudToDeviceMethod, DeviceRegistrationState, EnrollmentGroup, IndividualEnrollment, QueryPage,
};
use crate::azure::{AzureError, BulkMode, DpsClient, HubClient, IfMatch};

/// Enrollments per query page.
const PAGE: u32 = 100;

/// Every item of a paged query: `page` is called with each continuation until none comes back.
async fn every_page<T, F, Fut>(page: F) -> Result<Vec<T>, AzureError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<QueryPage<T>, AzureError>>,
{
    let mut items = Vec::new();
    let mut continuation = None;
    loop {
        let next = page(continuation).await?;
        items.extend(next.items);
        continuation = next.continuation;
        if continuation.is_none() {
            return Ok(items);
        }
    }
}

async fn all_enrollments(client: &DpsClient) -> Result<Vec<IndividualEnrollment>, AzureError> {
    every_page(|continuation| async move { client.query_enrollments(Some(PAGE), continuation.as_deref()).await }).await
}

async fn all_groups(client: &DpsClient) -> Result<Vec<EnrollmentGroup>, AzureError> {
    every_page(|continuation| async move { client.query_groups(Some(PAGE), continuation.as_deref()).await }).await
}

async fn all_group_records(client: &DpsClient, group_id: &str) -> Result<Vec<DeviceRegistrationState>, AzureError> {
    every_page(|continuation| async move { client.query_group_registrations(group_id, Some(PAGE), continuation.as_deref()).await }).await
}

/// Both lists, sorted by id.
pub async fn load_enrollments(client: DpsClient, sink: EventSink, request: RequestId) {
    let (individuals, groups) = tokio::join!(all_enrollments(&client), all_groups(&client));
    let result = match (individuals, groups) {
        (Ok(mut individuals), Ok(mut groups)) => {
            individuals.sort_by(|a, b| a.registration_id.cmp(&b.registration_id));
            groups.sort_by(|a, b| a.enrollment_group_id.cmp(&b.enrollment_group_id));
            let mut group_devices = std::collections::BTreeMap::new();
            for group in &groups {
                // A count that cannot be read is left out rather than failing the whole list.
                if let Ok(records) = all_group_records(&client, &group.enrollment_group_id).await {
                    group_devices.insert(group.enrollment_group_id.clone(), records.len());
                }
            }
            Ok(crate::app::model::enrollments::EnrollmentLists { individuals, groups, group_devices })
        }
        (Err(error), _) | (_, Err(error)) => Err(AppError::from(&error)),
    };
    sink.send(DpsEvent::EnrollmentsLoaded { request, result }.into()).await;
}

fn has_keys(attestation: &AttestationMechanism) -> bool {
    attestation.symmetric_key.as_ref().is_none_or(|keys| keys.primary_key.is_some())
}

/// Saves one enrollment. A symmetric-key update without new keys first reads the current keys
/// and sends them back (as the az CLI does), so the service can never replace them.
pub async fn save_enrollment(client: DpsClient, sink: EventSink, request: RequestId, item: AnyEnrollment, etag: Option<String>) {
    let (id, kind) = (item.id().to_owned(), item.kind());
    let if_match = etag.clone().map(IfMatch::Etag);
    if etag.is_none() {
        // A PUT without If-Match replaces whatever exists: a create must never do that.
        match reread(&client, kind, &id).await {
            Ok(_) => {
                let error = AppError::local(format!("{id} already exists; open it from the list to change it"));
                return sink.send(DpsEvent::Saved { request, id, outcome: EnrollmentSaveOutcome::Failed(error) }.into()).await;
            }
            Err(error) if error.status() == Some(404) => {}
            Err(error) => return failed(&sink, request, id, &error).await,
        }
    }
    let result = match item {
        AnyEnrollment::Individual(mut enrollment) => {
            if etag.is_some() && !has_keys(&enrollment.attestation) {
                match client.enrollment_attestation(&enrollment.registration_id).await {
                    Ok(attestation) => enrollment.attestation = attestation,
                    Err(error) => return failed(&sink, request, id, &error).await,
                }
            }
            client.put_enrollment(&enrollment, if_match).await.map(|saved| AnyEnrollment::Individual(strip_keys_individual(saved)))
        }
        AnyEnrollment::Group(mut group) => {
            if etag.is_some() && !has_keys(&group.attestation) {
                match client.group_attestation(&group.enrollment_group_id).await {
                    Ok(attestation) => group.attestation = attestation,
                    Err(error) => return failed(&sink, request, id, &error).await,
                }
            }
            client.put_group(&group, if_match).await.map(|saved| AnyEnrollment::Group(strip_keys_group(saved)))
        }
    };
    let outcome = match result {
        Ok(saved) => {
            // The saved answer has no registration record; read it back so the editor shows it.
            let saved = match saved {
                AnyEnrollment::Individual(enrollment) => match client.get_enrollment(&enrollment.registration_id).await {
                    Ok(fresh) => AnyEnrollment::Individual(fresh),
                    Err(_) => AnyEnrollment::Individual(enrollment),
                },
                group @ AnyEnrollment::Group(_) => group,
            };
            EnrollmentSaveOutcome::Saved(Box::new(saved))
        }
        Err(error) if error.status() == Some(412) => match reread(&client, kind, &id).await {
            Ok(theirs) => EnrollmentSaveOutcome::Conflict(Box::new(theirs)),
            Err(error) => EnrollmentSaveOutcome::Failed(AppError::from(&error)),
        },
        Err(error) => EnrollmentSaveOutcome::Failed(AppError::from(&error)),
    };
    sink.send(DpsEvent::Saved { request, id, outcome }.into()).await;
}

async fn reread(client: &DpsClient, kind: EnrollmentKind, id: &str) -> Result<AnyEnrollment, AzureError> {
    match kind {
        EnrollmentKind::Individual => client.get_enrollment(id).await.map(AnyEnrollment::Individual),
        EnrollmentKind::Group => client.get_group(id).await.map(AnyEnrollment::Group),
    }
}

fn strip_keys_individual(mut enrollment: IndividualEnrollment) -> IndividualEnrollment {
    if let Some(keys) = &mut enrollment.attestation.symmetric_key {
        *keys = crate::azure::wire::SymmetricKeyAttestation::default();
    }
    enrollment
}

fn strip_keys_group(mut group: EnrollmentGroup) -> EnrollmentGroup {
    if let Some(keys) = &mut group.attestation.symmetric_key {
        *keys = crate::azure::wire::SymmetricKeyAttestation::default();
    }
    group
}

async fn failed(sink: &EventSink, request: RequestId, id: String, error: &AzureError) {
    sink.send(DpsEvent::Saved { request, id, outcome: EnrollmentSaveOutcome::Failed(AppError::from(error)) }.into()).await;
}

/// Deletes an enrollment or group with the etag it was opened with.
pub async fn delete_enrollment(
    client: DpsClient,
    sink: EventSink,
    request: RequestId,
    kind: EnrollmentKind,
    id: String,
    etag: Option<String>,
) {
    let if_match = etag.map_or(IfMatch::Any, IfMatch::Etag);
    let result = match kind {
        EnrollmentKind::Individual => client.delete_enrollment(&id, if_match).await,
        EnrollmentKind::Group => client.delete_group(&id, if_match).await,
    };
    let result = result.map_err(|error| {
        let mut failure = AppError::from(&error);
        if error.status() == Some(412) {
            "someone changed it since you opened it; nothing was deleted (close and reopen it to see their version)"
                .clone_into(&mut failure.message);
        }
        failure
    });
    sink.send(DpsEvent::Deleted { request, id, result }.into()).await;
}

/// Sets a policy on several enrollments of one kind with bulk `updateIfMatchETag`, 10 per call.
/// Keys are read back first for each item so none is dropped.
pub async fn bulk_set_policy(client: DpsClient, sink: EventSink, request: RequestId, items: Vec<AnyEnrollment>) {
    let mut results: crate::app::model::enrollments::ItemResults = Vec::new();
    let mut individuals = Vec::new();
    let mut groups = Vec::new();
    for item in items {
        let id = item.id().to_owned();
        match item {
            AnyEnrollment::Individual(mut enrollment) => {
                if !has_keys(&enrollment.attestation) {
                    match client.enrollment_attestation(&id).await {
                        Ok(attestation) => enrollment.attestation = attestation,
                        Err(error) => {
                            results.push((id, Err(AppError::from(&error))));
                            continue;
                        }
                    }
                }
                individuals.push(enrollment);
            }
            AnyEnrollment::Group(mut group) => {
                if !has_keys(&group.attestation) {
                    match client.group_attestation(&id).await {
                        Ok(attestation) => group.attestation = attestation,
                        Err(error) => {
                            results.push((id, Err(AppError::from(&error))));
                            continue;
                        }
                    }
                }
                groups.push(group);
            }
        }
    }
    for chunk in individuals.chunks(MAX_BULK_ENROLLMENTS) {
        let ids: Vec<String> = chunk.iter().map(|item| item.registration_id.clone()).collect();
        match client.bulk_enrollments(BulkMode::UpdateIfMatchEtag, chunk).await {
            Ok(outcome) => results.extend(per_item(&ids, &outcome, |error| error.registration_id.clone())),
            Err(error) => results.extend(ids.into_iter().map(|id| (id, Err(AppError::from(&error))))),
        }
    }
    for chunk in groups.chunks(MAX_BULK_ENROLLMENTS) {
        let ids: Vec<String> = chunk.iter().map(|item| item.enrollment_group_id.clone()).collect();
        match client.bulk_groups(BulkMode::UpdateIfMatchEtag, chunk).await {
            Ok(outcome) => results.extend(per_item(&ids, &outcome, |error| error.enrollment_group_id.clone())),
            Err(error) => results.extend(ids.into_iter().map(|id| (id, Err(AppError::from(&error))))),
        }
    }
    sink.send(DpsEvent::BulkPolicyDone { request, result: Ok(results) }.into()).await;
}

fn per_item(
    ids: &[String],
    outcome: &crate::azure::wire::BulkEnrollmentOperationResult,
    id_of: impl Fn(&crate::azure::wire::BulkEnrollmentOperationError) -> Option<String>,
) -> crate::app::model::enrollments::ItemResults {
    ids.iter()
        .map(|id| {
            let error = outcome.errors.iter().find(|error| id_of(error).is_some_and(|failed| failed.eq_ignore_ascii_case(id)));
            let result = match error {
                Some(error) if error.error_code / 1000 == 412 => Err(AppError {
                    status: Some(412),
                    code: None,
                    message: "changed by someone else since it was listed (etag mismatch); reload and try again".to_owned(),
                }),
                Some(error) => Err(AppError::local(error.error_status.clone())),
                None => Ok(()),
            };
            (id.clone(), result)
        })
        .collect()
}

/// The registration records of an enrollment (its one device) or of a group (its devices).
pub async fn load_records(client: DpsClient, sink: EventSink, request: RequestId, kind: EnrollmentKind, id: String) {
    let result = match kind {
        EnrollmentKind::Individual => match client.get_registration(&id).await {
            Ok(record) => Ok(vec![record]),
            Err(error) if error.status() == Some(404) => Ok(Vec::new()),
            Err(error) => Err(AppError::from(&error)),
        },
        EnrollmentKind::Group => all_group_records(&client, &id).await.map_err(AppError::from),
    };
    sink.send(DpsEvent::Records { request, id, result }.into()).await;
}

/// Reads an enrollment's keys for copying.
pub async fn load_keys(client: DpsClient, sink: EventSink, request: RequestId, kind: EnrollmentKind, id: String) {
    let attestation = match kind {
        EnrollmentKind::Individual => client.enrollment_attestation(&id).await,
        EnrollmentKind::Group => client.group_attestation(&id).await,
    };
    let result = match attestation {
        Ok(attestation) => attestation
            .symmetric_key
            .and_then(|keys| Some((keys.primary_key?, keys.secondary_key?)))
            .ok_or_else(|| AppError::local(format!("{id} has {} attestation, not symmetric keys", attestation.kind))),
        Err(error) => Err(AppError::from(&error)),
    };
    sink.send(DpsEvent::Keys { request, id, result }.into()).await;
}

/// Asks the device to register again: the `reprovision` direct method on its hub.
pub async fn reregister(client: HubClient, sink: EventSink, request: RequestId, device_id: Arc<str>, registration_id: String) {
    let method = CloudToDeviceMethod {
        method_name: "reprovision".to_owned(),
        payload: serde_json::Value::Null,
        response_timeout_in_seconds: Some(30),
        connect_timeout_in_seconds: Some(10),
    };
    let result = match client.invoke_method(&device_id, &method).await {
        Ok(answer) if (200..300).contains(&answer.status) => Ok(()),
        Ok(answer) => Err(AppError::local(format!("the device answered {}: {}", answer.status, answer.payload))),
        Err(error) => Err(AppError::from(&error)),
    };
    sink.send(DpsEvent::ReRegisterSent { request, registration_id, result }.into()).await;
}

/// Finds the enrollment a device registered through: an individual enrollment with its id,
/// else a group whose records list it.
pub async fn find_enrollment(client: DpsClient, sink: EventSink, request: RequestId, device_id: Arc<str>) {
    let result = async {
        let individuals = all_enrollments(&client).await?;
        if let Some(found) = individuals.into_iter().find(|enrollment| {
            enrollment.registration_id.eq_ignore_ascii_case(&device_id)
                || enrollment.registration_state.as_ref().and_then(|record| record.device_id.as_deref()) == Some(&*device_id)
        }) {
            return Ok(Some(Box::new(AnyEnrollment::Individual(found))));
        }
        for group in all_groups(&client).await? {
            let records = all_group_records(&client, &group.enrollment_group_id).await?;
            if records.iter().any(|record| record.device_id.as_deref() == Some(&*device_id)) {
                return Ok(Some(Box::new(AnyEnrollment::Group(group))));
            }
        }
        Ok(None)
    }
    .await
    .map_err(|error: AzureError| AppError::from(&error));
    sink.send(DpsEvent::EnrollmentFound { request, device_id, result }.into()).await;
}
