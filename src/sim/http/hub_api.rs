//! The hub's service API behind the front end: its rules (api-versions the SDKs have used, a
//! 256 KB body), what it decides before reading a body (route, SAS, injected latency and faults,
//! the tier's throttles and daily quota)
//! and the operations (`devices.rs`; `jobs.rs` for direct methods and jobs).

use std::sync::Arc;

use axum::response::Response;

use super::api::Api;
use super::api_version::ApiVersions;
use super::front::{Call, FrontEnd, Head};
use super::route::Route;
use super::{devices, jobs};
use crate::sim::clock::unix_now;
use crate::sim::error::HubError;
use crate::sim::hub::Hub;

/// Largest request body accepted (a direct-method payload may be 128 KB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// One hub's service API.
pub struct HubApi<'a>(pub &'a Arc<Hub>);

impl Api for HubApi<'_> {
    type Error = HubError;
    type Admitted = Route;
    const FRONT: FrontEnd = FrontEnd {
        // Every api-version the SDKs have used, `-preview` ones too.
        api_versions: ApiVersions { dates: Some(("2016-02-03", "2024-12-31")), example: "2021-04-12" },
        max_body_bytes: MAX_BODY_BYTES,
    };

    /// Routes, authorizes and injects faults before the body is read, so a refused or throttled
    /// request costs no upload.
    async fn admit(&self, head: &Head) -> Result<Route, HubError> {
        let hub = self.0;
        let route = Route::parse(&head.method, &head.path)?;
        hub.policies().authorize(head.authorization(), route.permission(), hub.host_names(), unix_now())?;
        let latency = hub.faults().latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(fault) = hub.faults().next_fault() {
            return Err(fault);
        }
        admit_quotas(hub, &route)?;
        Ok(route)
    }

    async fn run(&self, route: Route, call: Call) -> Result<Response, HubError> {
        match route {
            Route::InvokeMethod(_) | Route::PutJob(_) | Route::GetJob(_) | Route::CancelJob(_) | Route::QueryJobs => {
                jobs::run(self.0, route, call).await
            }
            route => devices::run(self.0, route, call).await,
        }
    }
}

/// The tier's throttles and daily quota, decided before the body is read like the service's own
/// admission. A bulk call's single token here is its first device; `devices.rs` takes the rest
/// once the body tells how many.
fn admit_quotas(hub: &Hub, route: &Route) -> Result<(), HubError> {
    let quotas = hub.quotas();
    match route {
        Route::ListDevices | Route::GetDevice(_) | Route::PutDevice(_) | Route::DeleteDevice(_) | Route::BulkDevices => {
            quotas.admit_registry(1)
        }
        Route::QueryDevices => {
            quotas.check_messages()?;
            quotas.admit_query()
        }
        // Calls that cost messages are refused once the day's are used up.
        Route::InvokeMethod(_) | Route::PatchTwin(_) | Route::ReplaceTwin(_) => quotas.check_messages(),
        Route::GetTwin(_)
        | Route::DeviceStatistics
        | Route::ServiceStatistics
        | Route::DeviceConnections
        | Route::PutJob(_)
        | Route::GetJob(_)
        | Route::CancelJob(_)
        | Route::QueryJobs => Ok(()),
    }
}
