//! [`Api`]: a service API served on a listener (the hub's, DPS's), and [`serve`], the one
//! pipeline every request of such an API goes through.
//!
//! ```text
//! head (api-version, query, If-Match) → admit (route, SAS, faults) → body (limit) → run → envelope
//! ```

use std::future::Future;

use axum::extract::Request;
use axum::response::Response;

use super::front::{Call, FrontEnd, Head};
use super::front_error::{ErrorEnvelope, answer};

/// A service API behind the front end.
pub trait Api: Sync {
    /// The API's error, answered in its own envelope.
    type Error: ErrorEnvelope + Send;
    /// What [`admit`](Self::admit) decided, handed to [`run`](Self::run).
    type Admitted: Send;
    /// The API's front-end rules (api-versions, body limit).
    const FRONT: FrontEnd;

    /// Decides from the head alone whether the request goes on to have its body read: the
    /// route, authorization and injected faults, as far as the API decides them up front.
    fn admit(&self, head: &Head) -> impl Future<Output = Result<Self::Admitted, Self::Error>> + Send;

    /// Runs the operation.
    fn run(&self, admitted: Self::Admitted, call: Call) -> impl Future<Output = Result<Response, Self::Error>> + Send;

    /// Adds what every answer of the API carries, errors included (DPS: `x-ms-request-id`).
    fn finish(&self, _response: &mut Response) {}
}

/// Serves one request of `api`.
pub async fn serve<A: Api>(api: &A, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let outcome = async {
        let head = A::FRONT.head(parts)?;
        let admitted = api.admit(&head).await?;
        let call = A::FRONT.read_body(head, body).await?;
        api.run(admitted, call).await
    }
    .await;
    let mut response = answer(outcome);
    api.finish(&mut response);
    response
}
