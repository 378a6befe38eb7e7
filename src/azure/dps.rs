//! The Device Provisioning Service client (service API 2021-10-01): individual enrollments,
//! enrollment groups, registration records, bulk operations and attestation mechanisms.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::connection_string::{ServiceConnectionString, ServiceKind};
use super::error::AzureError;
use super::id_rules::check_dps_id;
use super::pipeline::{ApiRequest, ClientOptions, IfMatch, Pipeline, SharedPipeline};
use super::sas::encode_component;
use super::wire::{
    AttestationMechanism, BulkEnrollmentOperation, BulkEnrollmentOperationResult, CONTINUATION_HEADER, DeviceRegistrationState,
    EnrollmentGroup, ITEM_TYPE_HEADER, IndividualEnrollment, QueryPage,
};

/// The DPS service REST API version hubdeck speaks.
pub const DPS_API_VERSION: &str = "2021-10-01";
/// Most items in one bulk enrollment call.
pub const MAX_BULK_ENROLLMENTS: usize = 10;

/// How a bulk call treats its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkMode {
    /// Create; an existing id fails that item.
    Create,
    /// Create or replace.
    Update,
    /// Replace only when each item's `etag` is still current.
    UpdateIfMatchEtag,
    /// Delete the items.
    Delete,
}

impl BulkMode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::UpdateIfMatchEtag => "updateIfMatchETag",
            Self::Delete => "delete",
        }
    }
}

/// A client for one DPS instance. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DpsClient {
    pipeline: SharedPipeline,
}

/// Which list an operation works on.
#[derive(Clone, Copy)]
enum List {
    Enrollments,
    Groups,
}

impl List {
    fn path(self) -> &'static str {
        match self {
            Self::Enrollments => "/enrollments",
            Self::Groups => "/enrollmentGroups",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Enrollments => "enrollment",
            Self::Groups => "enrollment group",
        }
    }
}

impl DpsClient {
    /// A client for the DPS instance named by `connection`.
    pub fn new(connection: &ServiceConnectionString, options: &ClientOptions) -> Result<Self, AzureError> {
        Ok(Self { pipeline: Pipeline::for_connection(connection, ServiceKind::Dps, DPS_API_VERSION, options)? })
    }

    /// `HostName` of the instance.
    pub fn host_name(&self) -> &str {
        self.pipeline.host()
    }

    async fn get<T: DeserializeOwned>(&self, list: List, id: &str) -> Result<T, AzureError> {
        check_dps_id(list.what(), id)?;
        let path = format!("{}/{}", list.path(), encode_component(id));
        let request =
            ApiRequest::new(if matches!(list, List::Groups) { "get enrollment group" } else { "get enrollment" }, id, Method::GET, path);
        self.pipeline.send(&request).await?.json()
    }

    async fn put<T: DeserializeOwned + Serialize>(
        &self,
        list: List,
        id: &str,
        item: &T,
        if_match: Option<IfMatch>,
    ) -> Result<T, AzureError> {
        check_dps_id(list.what(), id)?;
        let path = format!("{}/{}", list.path(), encode_component(id));
        let operation = if matches!(list, List::Groups) { "save enrollment group" } else { "save enrollment" };
        let mut request = ApiRequest::new(operation, id, Method::PUT, path).json_body(item)?;
        if let Some(if_match) = if_match {
            request = request.if_match(if_match);
        }
        self.pipeline.send(&request).await?.json()
    }

    async fn delete(&self, list: List, id: &str, if_match: IfMatch) -> Result<(), AzureError> {
        check_dps_id(list.what(), id)?;
        let path = format!("{}/{}", list.path(), encode_component(id));
        let operation = if matches!(list, List::Groups) { "delete enrollment group" } else { "delete enrollment" };
        let request = ApiRequest::new(operation, id, Method::DELETE, path).if_match(if_match);
        self.pipeline.send(&request).await.map(drop)
    }

    async fn query<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: String,
        page_size: Option<u32>,
        continuation: Option<&str>,
    ) -> Result<QueryPage<T>, AzureError> {
        let mut request = ApiRequest::new(operation, "*", Method::POST, path).json_body(&serde_json::json!({ "query": "*" }))?;
        request.max_item_count = page_size;
        request.continuation = continuation.map(str::to_owned);
        let response = self.pipeline.send(&request).await?;
        let items = response.json()?;
        let continuation = response.header(CONTINUATION_HEADER).filter(|token| !token.is_empty()).map(str::to_owned);
        let item_type = response.header(ITEM_TYPE_HEADER).map(str::to_owned);
        Ok(QueryPage { items, continuation, item_type })
    }

    /// `GET /enrollments/{id}` (keys are not returned; see [`Self::enrollment_attestation`]).
    pub async fn get_enrollment(&self, registration_id: &str) -> Result<IndividualEnrollment, AzureError> {
        self.get(List::Enrollments, registration_id).await
    }

    /// `PUT /enrollments/{id}`: create (no `If-Match`) or replace (`If-Match`).
    pub async fn put_enrollment(
        &self,
        enrollment: &IndividualEnrollment,
        if_match: Option<IfMatch>,
    ) -> Result<IndividualEnrollment, AzureError> {
        let mut body = enrollment.clone();
        // The record is read-only; sending it back is noise.
        body.registration_state = None;
        self.put(List::Enrollments, &enrollment.registration_id, &body, if_match).await
    }

    /// `DELETE /enrollments/{id}`.
    pub async fn delete_enrollment(&self, registration_id: &str, if_match: IfMatch) -> Result<(), AzureError> {
        self.delete(List::Enrollments, registration_id, if_match).await
    }

    /// One page of `POST /enrollments/query`.
    pub async fn query_enrollments(
        &self,
        page_size: Option<u32>,
        continuation: Option<&str>,
    ) -> Result<QueryPage<IndividualEnrollment>, AzureError> {
        self.query("query enrollments", "/enrollments/query".to_owned(), page_size, continuation).await
    }

    /// `POST /enrollments/{id}/attestationmechanism`: the attestation with its keys.
    pub async fn enrollment_attestation(&self, registration_id: &str) -> Result<AttestationMechanism, AzureError> {
        check_dps_id("enrollment", registration_id)?;
        let path = format!("/enrollments/{}/attestationmechanism", encode_component(registration_id));
        let request = ApiRequest::new("read enrollment keys", registration_id, Method::POST, path);
        self.pipeline.send(&request).await?.json()
    }

    /// `GET /enrollmentGroups/{id}`.
    pub async fn get_group(&self, group_id: &str) -> Result<EnrollmentGroup, AzureError> {
        self.get(List::Groups, group_id).await
    }

    /// `PUT /enrollmentGroups/{id}`.
    pub async fn put_group(&self, group: &EnrollmentGroup, if_match: Option<IfMatch>) -> Result<EnrollmentGroup, AzureError> {
        self.put(List::Groups, &group.enrollment_group_id, group, if_match).await
    }

    /// `DELETE /enrollmentGroups/{id}` (its registration records stay).
    pub async fn delete_group(&self, group_id: &str, if_match: IfMatch) -> Result<(), AzureError> {
        self.delete(List::Groups, group_id, if_match).await
    }

    /// One page of `POST /enrollmentGroups/query`.
    pub async fn query_groups(&self, page_size: Option<u32>, continuation: Option<&str>) -> Result<QueryPage<EnrollmentGroup>, AzureError> {
        self.query("query enrollment groups", "/enrollmentGroups/query".to_owned(), page_size, continuation).await
    }

    /// `POST /enrollmentGroups/{id}/attestationmechanism`.
    pub async fn group_attestation(&self, group_id: &str) -> Result<AttestationMechanism, AzureError> {
        check_dps_id("enrollment group", group_id)?;
        let path = format!("/enrollmentGroups/{}/attestationmechanism", encode_component(group_id));
        let request = ApiRequest::new("read enrollment group keys", group_id, Method::POST, path);
        self.pipeline.send(&request).await?.json()
    }

    /// `POST /enrollments` in bulk (at most [`MAX_BULK_ENROLLMENTS`]); item failures are in the result.
    pub async fn bulk_enrollments(
        &self,
        mode: BulkMode,
        items: &[IndividualEnrollment],
    ) -> Result<BulkEnrollmentOperationResult, AzureError> {
        check_bulk_size(items.len())?;
        let items = items.iter().cloned().map(|mut item| {
            item.registration_state = None;
            item
        });
        let body = BulkEnrollmentOperation { mode: mode.as_str().to_owned(), enrollments: Some(items.collect()), enrollment_groups: None };
        let request = ApiRequest::new("bulk enrollments", mode.as_str(), Method::POST, "/enrollments".to_owned()).json_body(&body)?;
        self.pipeline.send(&request).await?.json()
    }

    /// `POST /enrollmentGroups` in bulk.
    pub async fn bulk_groups(&self, mode: BulkMode, items: &[EnrollmentGroup]) -> Result<BulkEnrollmentOperationResult, AzureError> {
        check_bulk_size(items.len())?;
        let body = BulkEnrollmentOperation { mode: mode.as_str().to_owned(), enrollments: None, enrollment_groups: Some(items.to_vec()) };
        let request =
            ApiRequest::new("bulk enrollment groups", mode.as_str(), Method::POST, "/enrollmentGroups".to_owned()).json_body(&body)?;
        self.pipeline.send(&request).await?.json()
    }

    /// `GET /registrations/{id}`.
    pub async fn get_registration(&self, registration_id: &str) -> Result<DeviceRegistrationState, AzureError> {
        check_dps_id("registration", registration_id)?;
        let path = format!("/registrations/{}", encode_component(registration_id));
        let request = ApiRequest::new("get registration", registration_id, Method::GET, path);
        self.pipeline.send(&request).await?.json()
    }

    /// `DELETE /registrations/{id}` (the device stays on its hub).
    pub async fn delete_registration(&self, registration_id: &str, if_match: IfMatch) -> Result<(), AzureError> {
        check_dps_id("registration", registration_id)?;
        let path = format!("/registrations/{}", encode_component(registration_id));
        let request = ApiRequest::new("delete registration", registration_id, Method::DELETE, path).if_match(if_match);
        self.pipeline.send(&request).await.map(drop)
    }

    /// One page of `POST /registrations/{groupId}/query`: the devices that registered through a group.
    pub async fn query_group_registrations(
        &self,
        group_id: &str,
        page_size: Option<u32>,
        continuation: Option<&str>,
    ) -> Result<QueryPage<DeviceRegistrationState>, AzureError> {
        check_dps_id("enrollment group", group_id)?;
        self.query("query registrations", format!("/registrations/{}/query", encode_component(group_id)), page_size, continuation).await
    }
}

fn check_bulk_size(count: usize) -> Result<(), AzureError> {
    if (1..=MAX_BULK_ENROLLMENTS).contains(&count) {
        Ok(())
    } else {
        Err(AzureError::InvalidInput(format!("a bulk enrollment call takes 1 to {MAX_BULK_ENROLLMENTS} items, not {count}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_sizes_are_checked_before_sending() {
        assert!(check_bulk_size(0).is_err());
        assert!(check_bulk_size(11).unwrap_err().to_string().contains("1 to 10 items, not 11"));
        assert_eq!(BulkMode::UpdateIfMatchEtag.as_str(), "updateIfMatchETag");
    }
}
