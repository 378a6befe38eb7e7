//! The request pipeline every call goes through: SAS auth, api-version, `If-Match`, paging
//! headers, typed errors, the retry policy and one event per attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use super::error::{AzureError, ServiceError};
use super::events::{CallOutcome, CallRecord, ClientEvent, RetryNotice, SharedEventSink};
use super::retry::{Decision, Failure, RetryPolicy, parse_retry_after};
use super::sas::SasCredential;
use super::wire::{CONTINUATION_HEADER, MAX_ITEM_COUNT_HEADER, parse_error};

/// How the client finds a proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// `HTTPS_PROXY` / `https_proxy` and `NO_PROXY` / `no_proxy` from the environment.
    #[default]
    FromEnvironment,
    /// This proxy URL, bypassed for the hosts in `no_proxy` (comma-separated, as `NO_PROXY`).
    Url {
        /// `http://host:port`.
        url: String,
        /// Hosts that go direct.
        no_proxy: Option<String>,
    },
    /// Never use a proxy.
    Disabled,
}

impl ProxySetting {
    /// Resolves [`ProxySetting::FromEnvironment`] with `lookup` (the environment, or a test map).
    #[must_use]
    pub fn resolve(&self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        match self {
            Self::FromEnvironment => {
                let first = |names: &[&str]| names.iter().find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()));
                match first(&["HTTPS_PROXY", "https_proxy"]) {
                    Some(url) => Self::Url { url, no_proxy: first(&["NO_PROXY", "no_proxy"]) },
                    None => Self::Disabled,
                }
            }
            other => other.clone(),
        }
    }
}

/// Settings for a client.
#[derive(Clone)]
pub struct ClientOptions {
    /// An extra CA certificate (PEM) to trust besides the system roots, e.g. the simulator's.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Proxy selection.
    pub proxy: ProxySetting,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Where call events go (the activity log).
    pub events: Option<SharedEventSink>,
    /// Timeout of one attempt (direct methods raise it per call).
    pub request_timeout: Duration,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            extra_ca_pem: None,
            proxy: ProxySetting::FromEnvironment,
            retry: RetryPolicy::default(),
            events: None,
            request_timeout: Duration::from_mins(1),
            connect_timeout: Duration::from_secs(15),
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("proxy", &self.proxy)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// The `If-Match` precondition of a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `"*"`: write whatever the current version is.
    Any,
    /// Write only if the resource still has this etag.
    Etag(String),
}

impl IfMatch {
    /// The header value, always quoted as the SDKs send it.
    pub fn header_value(&self) -> String {
        match self {
            Self::Any => "\"*\"".to_owned(),
            Self::Etag(etag) if etag.starts_with('"') && etag.ends_with('"') && etag.len() >= 2 => etag.clone(),
            Self::Etag(etag) => format!("\"{etag}\""),
        }
    }
}

/// One API call, before it is sent.
#[derive(Clone, Debug)]
pub(crate) struct ApiRequest {
    pub operation: &'static str,
    pub target: String,
    pub method: Method,
    /// Path with ids already percent-encoded, starting with `/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub if_match: Option<IfMatch>,
    pub body: Option<Vec<u8>>,
    pub max_item_count: Option<u32>,
    pub continuation: Option<String>,
    pub timeout: Option<Duration>,
    /// Non-2xx statuses that carry a normal answer (bulk registry answers 400 with a result).
    pub accept_statuses: &'static [u16],
    /// Error statuses never retried for this call (a direct method's 504: the device may have
    /// acted; repeating it could act twice).
    pub final_statuses: &'static [u16],
}

impl ApiRequest {
    pub fn new(operation: &'static str, target: impl Into<String>, method: Method, path: String) -> Self {
        Self {
            operation,
            target: target.into(),
            method,
            path,
            query: Vec::new(),
            if_match: None,
            body: None,
            max_item_count: None,
            continuation: None,
            timeout: None,
            accept_statuses: &[],
            final_statuses: &[],
        }
    }

    pub fn json_body(mut self, body: &impl serde::Serialize) -> Result<Self, AzureError> {
        let bytes = serde_json::to_vec(body).map_err(|error| AzureError::InvalidInput(format!("cannot encode the request: {error}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub fn if_match(mut self, if_match: IfMatch) -> Self {
        self.if_match = Some(if_match);
        self
    }

    /// A repeated request cannot do anything twice: reads, queries, conditional writes, deletes.
    fn is_idempotent(&self) -> bool {
        self.method == Method::GET
            || self.method == Method::DELETE
            || self.operation.starts_with("query")
            || (self.method != Method::POST && self.if_match.is_some())
    }
}

/// What one HTTP exchange produced, before the retry policy looks at it.
enum Attempt {
    /// The service answered (any status).
    Answered(ApiResponse),
    /// No answer; `connect` when the connection was never made (always safe to retry).
    TransportFailed { error: AzureError, connect: bool },
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    operation: &'static str,
    target: String,
}

impl ApiResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AzureError> {
        serde_json::from_slice(&self.body).map_err(|error| AzureError::Decode {
            operation: self.operation,
            target: self.target.clone(),
            status: self.status,
            detail: error.to_string(),
        })
    }
}

/// Sends requests to one service host.
pub(crate) struct Pipeline {
    http: reqwest::Client,
    base_url: String,
    host: String,
    api_version: &'static str,
    credential: SasCredential,
    retry: RetryPolicy,
    events: Option<SharedEventSink>,
    request_timeout: Duration,
    in_flight: Arc<AtomicUsize>,
}

/// Counts a request as in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn start(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pipeline {
    /// A shared pipeline for the service a connection string names, signing with its policy key.
    /// `kind` is the service the caller speaks; another kind is refused with a clear error.
    pub fn for_connection(
        connection: &super::connection_string::ServiceConnectionString,
        kind: super::connection_string::ServiceKind,
        api_version: &'static str,
        options: &ClientOptions,
    ) -> Result<SharedPipeline, AzureError> {
        if connection.kind() != kind {
            let with_article = |label: &str| if label.starts_with('I') { format!("an {label}") } else { format!("a {label}") };
            return Err(AzureError::InvalidInput(format!(
                "{} connection string was given where {} one is needed",
                with_article(connection.kind().label()),
                with_article(kind.label())
            )));
        }
        let key = super::sas::decode_key(connection.key())
            .ok_or_else(|| AzureError::InvalidInput("the SharedAccessKey is not valid base64".to_owned()))?;
        let credential =
            SasCredential::new(super::sas::resource_for_host(connection.host_name()), Some(connection.key_name().to_owned()), key);
        Ok(Arc::new(Self::new(connection.host_name(), api_version, credential, options)?))
    }

    pub fn new(host: &str, api_version: &'static str, credential: SasCredential, options: &ClientOptions) -> Result<Self, AzureError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("hubdeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(Duration::from_mins(1));
        if let Some(pem) = &options.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|error| AzureError::Certificate(error.to_string()))?;
            if certs.is_empty() {
                return Err(AzureError::Certificate("the file holds no PEM certificate".to_owned()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        builder = match options.proxy.resolve(|name| std::env::var(name).ok()) {
            ProxySetting::Url { url, no_proxy } => {
                let proxy = reqwest::Proxy::https(&url)
                    .map_err(|error| AzureError::ClientSetup(format!("proxy URL '{url}': {error}")))?
                    .no_proxy(no_proxy.as_deref().and_then(reqwest::NoProxy::from_string));
                builder.proxy(proxy)
            }
            ProxySetting::Disabled | ProxySetting::FromEnvironment => builder.no_proxy(),
        };
        let http = builder.build().map_err(|error| AzureError::ClientSetup(error.to_string()))?;
        Ok(Self {
            http,
            base_url: format!("https://{host}"),
            host: host.to_owned(),
            api_version,
            credential,
            retry: options.retry.clone(),
            events: options.events.clone(),
            request_timeout: options.request_timeout,
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// HTTP requests being sent or awaited right now (retry waits excluded).
    pub fn in_flight(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.in_flight)
    }

    /// Sends `request`, retrying as the policy says; returns the response or the last error.
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, AzureError> {
        self.send_with(request, || async {
            match self.send_once(request).await {
                Ok(response) => Attempt::Answered(response),
                Err(error) => Attempt::TransportFailed { connect: error.is_connect(), error: transport_error(request, &error) },
            }
        })
        .await
    }

    /// The retry loop around `attempt` (one HTTP exchange), apart from the transport so its
    /// timing can be tested on a paused clock.
    async fn send_with<F, Fut>(&self, request: &ApiRequest, mut attempt_once: F) -> Result<ApiResponse, AzureError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Attempt>,
    {
        let mut attempt = 1;
        loop {
            let started_at = SystemTime::now();
            let started = tokio::time::Instant::now();
            let result = attempt_once().await;
            let latency = started.elapsed();
            let (error, failure) = match result {
                Attempt::Answered(response)
                    if (200..300).contains(&response.status) || request.accept_statuses.contains(&response.status) =>
                {
                    self.emit_call(request, started_at, latency, attempt, Some(response.status), None, CallOutcome::Succeeded);
                    return Ok(response);
                }
                Attempt::Answered(response) => {
                    let error = service_error(request, &response);
                    let failure = Failure::Status { status: error.status, retry_after: error.retry_after };
                    (AzureError::from(error), failure)
                }
                Attempt::TransportFailed { error, connect } => {
                    let failure = if connect { Failure::Connect } else { Failure::Interrupted { idempotent: request.is_idempotent() } };
                    (error, failure)
                }
            };
            let final_status = matches!(failure, Failure::Status { status, .. } if request.final_statuses.contains(&status));
            let decision = if final_status { Decision::GiveUp } else { self.retry.decide(attempt, failure) };
            let outcome = if matches!(decision, Decision::Retry { .. }) { CallOutcome::WillRetry } else { CallOutcome::Failed };
            self.emit_call(request, started_at, latency, attempt, error.status(), Some(&error), outcome);
            let Decision::Retry { wait, reason } = decision else {
                return Err(error);
            };
            attempt += 1;
            self.emit(ClientEvent::RetryWaiting(RetryNotice {
                host: self.host.clone(),
                operation: request.operation,
                target: request.target.clone(),
                next_attempt: attempt,
                wait,
                resume_at: SystemTime::now() + wait,
                reason,
            }));
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(&self, request: &ApiRequest) -> Result<ApiResponse, reqwest::Error> {
        let _in_flight = InFlight::start(&self.in_flight);
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .query(&[("api-version", self.api_version)])
            .query(&request.query)
            .timeout(request.timeout.unwrap_or(self.request_timeout));
        let mut authorization =
            HeaderValue::from_str(self.credential.authorization().expose()).unwrap_or_else(|_| HeaderValue::from_static(""));
        authorization.set_sensitive(true);
        builder = builder.header(reqwest::header::AUTHORIZATION, authorization);
        if let Some(if_match) = &request.if_match {
            builder = builder.header(reqwest::header::IF_MATCH, if_match.header_value());
        }
        if let Some(count) = request.max_item_count {
            builder = builder.header(MAX_ITEM_COUNT_HEADER, count.to_string());
        }
        if let Some(token) = &request.continuation {
            builder = builder.header(CONTINUATION_HEADER, token.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8").body(body.clone());
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(ApiResponse { status, headers, body, operation: request.operation, target: request.target.clone() })
    }

    #[allow(clippy::too_many_arguments)] // one flat record; a builder would only move the noise
    fn emit_call(
        &self,
        request: &ApiRequest,
        started_at: SystemTime,
        latency: Duration,
        attempt: u32,
        status: Option<u16>,
        error: Option<&AzureError>,
        outcome: CallOutcome,
    ) {
        let (error_code, error_message) = match error {
            Some(AzureError::Service(service)) => (service.code.clone(), Some(service.message.clone())),
            Some(other) => (None, Some(other.to_string())),
            None => (None, None),
        };
        self.emit(ClientEvent::Call(CallRecord {
            started_at,
            host: self.host.clone(),
            operation: request.operation,
            target: request.target.clone(),
            status,
            error_code,
            error_message,
            latency,
            attempt,
            outcome,
        }));
    }

    fn emit(&self, event: ClientEvent) {
        if let Some(events) = &self.events {
            events.emit(event);
        }
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("host", &self.host)
            .field("api_version", &self.api_version)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

fn service_error(request: &ApiRequest, response: &ApiResponse) -> ServiceError {
    let header_code = response.header("iothub-errorcode").or_else(|| response.header("x-ms-error-code"));
    let parsed = parse_error(response.status, header_code, &response.body);
    ServiceError {
        operation: request.operation,
        target: request.target.clone(),
        status: response.status,
        code: parsed.code,
        number: parsed.number,
        message: parsed.message,
        retry_after: response.header("retry-after").and_then(|value| parse_retry_after(value, SystemTime::now())),
    }
}

fn transport_error(request: &ApiRequest, error: &reqwest::Error) -> AzureError {
    // reqwest's Display includes the URL (no secrets: auth travels in a header) and the cause
    // chain carries the useful part (connection refused, certificate unknown, …).
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    AzureError::Transport { operation: request.operation, target: request.target.clone(), detail, timed_out: error.is_timeout() }
}

/// Shared handle used by the service clients.
pub(crate) type SharedPipeline = Arc<Pipeline>;

#[cfg(test)]
mod tests {
    use super::*;

    mod retry_loop {
        //! The retry loop on tokio's paused clock: every wait is exact, and no test sleeps.

        use std::collections::VecDeque;

        use parking_lot::Mutex;

        use super::*;
        use crate::azure::connection_string::{ServiceConnectionString, ServiceKind};
        use crate::azure::events::RetryReason;

        const HUB: &str = "HostName=hub.example;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==";

        fn pipeline(retry: RetryPolicy) -> (SharedPipeline, Arc<Mutex<Vec<ClientEvent>>>) {
            let events = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&events);
            let options = ClientOptions {
                retry,
                proxy: ProxySetting::Disabled,
                events: Some(Arc::new(move |event| sink.lock().push(event))),
                ..ClientOptions::default()
            };
            let connection = ServiceConnectionString::parse_hub(HUB).unwrap();
            (Pipeline::for_connection(&connection, ServiceKind::Hub, "2021-04-12", &options).unwrap(), events)
        }

        fn answer(status: u16, retry_after: Option<&str>) -> Attempt {
            let mut headers = HeaderMap::new();
            if let Some(seconds) = retry_after {
                headers.insert("retry-after", HeaderValue::from_str(seconds).unwrap());
            }
            let body =
                if status < 300 { Bytes::from_static(b"{}") } else { Bytes::from_static(b"{\"Message\":\"ErrorCode:ServerError;x\"}") };
            Attempt::Answered(ApiResponse { status, headers, body, operation: "get device", target: "d".to_owned() })
        }

        fn broken(connect: bool) -> Attempt {
            let error =
                AzureError::Transport { operation: "get device", target: "d".to_owned(), detail: "reset".to_owned(), timed_out: false };
            Attempt::TransportFailed { error, connect }
        }

        /// Sends `request` through a scripted transport; returns the result, the virtual time
        /// spent and the attempts made.
        async fn run(pipeline: &Pipeline, request: &ApiRequest, script: Vec<Attempt>) -> (Result<u16, AzureError>, Duration, usize) {
            let script = Mutex::new(VecDeque::from(script));
            let attempts = std::sync::atomic::AtomicUsize::new(0);
            let started = tokio::time::Instant::now();
            let result = pipeline
                .send_with(request, || {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let next = script.lock().pop_front().expect("the script has an answer for every attempt");
                    async move { next }
                })
                .await
                .map(|response| response.status);
            (result, started.elapsed(), attempts.load(Ordering::SeqCst))
        }

        fn exact(max_attempts: u32) -> RetryPolicy {
            RetryPolicy { max_attempts, jitter: 0.0, ..RetryPolicy::default() }
        }

        #[tokio::test(start_paused = true)]
        async fn waits_exactly_retry_after_then_backs_off_exponentially() {
            let (pipeline, events) = pipeline(exact(5));
            let request = ApiRequest::new("get device", "d", Method::GET, "/devices/d".to_owned());
            let script = vec![answer(429, Some("7")), answer(503, None), answer(500, None), answer(200, None)];
            let (result, waited, attempts) = run(&pipeline, &request, script).await;
            assert_eq!(result.unwrap(), 200);
            // The back-off doubles with each attempt made, the throttled one included.
            assert_eq!((waited, attempts), (Duration::from_secs(7 + 10 + 20), 4));
            let waits: Vec<(Duration, RetryReason, u32)> = events
                .lock()
                .iter()
                .filter_map(|event| match event {
                    ClientEvent::RetryWaiting(notice) => Some((notice.wait, notice.reason, notice.next_attempt)),
                    ClientEvent::Call(_) => None,
                })
                .collect();
            assert_eq!(
                waits,
                [
                    (Duration::from_secs(7), RetryReason::Throttled, 2),
                    (Duration::from_secs(10), RetryReason::ServerError(503), 3),
                    (Duration::from_secs(20), RetryReason::ServerError(500), 4),
                ]
            );
        }

        #[tokio::test(start_paused = true)]
        async fn gives_up_after_max_attempts_with_the_last_error() {
            let (pipeline, _events) = pipeline(exact(3));
            let request = ApiRequest::new("get device", "d", Method::GET, "/devices/d".to_owned());
            let (result, waited, attempts) = run(&pipeline, &request, vec![answer(503, None), answer(503, None), answer(503, None)]).await;
            assert_eq!(result.unwrap_err().status(), Some(503));
            assert_eq!((waited, attempts), (Duration::from_secs(5 + 10), 3));
        }

        #[tokio::test(start_paused = true)]
        async fn an_interrupted_create_is_not_sent_twice_but_a_refused_connection_is_retried() {
            let (pipeline, _events) = pipeline(exact(5));
            let create = ApiRequest::new("create device", "d", Method::PUT, "/devices/d".to_owned());
            let (result, waited, attempts) = run(&pipeline, &create, vec![broken(false)]).await;
            assert!(matches!(result, Err(AzureError::Transport { .. })), "{result:?}");
            assert_eq!((waited, attempts), (Duration::ZERO, 1), "the device may have been created: no second PUT");
            let (result, waited, attempts) = run(&pipeline, &create, vec![broken(true), answer(200, None)]).await;
            assert_eq!(result.unwrap(), 200);
            assert_eq!((waited, attempts), (Duration::from_secs(5), 2), "nothing reached the service: safe to send again");
        }

        #[tokio::test(start_paused = true)]
        async fn a_final_status_is_never_retried() {
            let (pipeline, _events) = pipeline(exact(5));
            let mut invoke = ApiRequest::new("invoke method", "d", Method::POST, "/twins/d/methods".to_owned());
            invoke.final_statuses = &[504];
            let (result, waited, attempts) = run(&pipeline, &invoke, vec![answer(504, None)]).await;
            assert_eq!(result.unwrap_err().status(), Some(504));
            assert_eq!((waited, attempts), (Duration::ZERO, 1));
        }

        #[tokio::test(start_paused = true)]
        async fn a_retry_after_longer_than_the_policy_allows_is_reported_at_once() {
            let (pipeline, _events) = pipeline(RetryPolicy { max_retry_after: Duration::from_mins(1), ..exact(5) });
            let request = ApiRequest::new("get device", "d", Method::GET, "/devices/d".to_owned());
            let (result, waited, _) = run(&pipeline, &request, vec![answer(429, Some("3600"))]).await;
            assert_eq!(result.unwrap_err().status(), Some(429));
            assert_eq!(waited, Duration::ZERO);
        }
    }

    #[test]
    fn if_match_is_always_quoted_once() {
        assert_eq!(IfMatch::Any.header_value(), "\"*\"");
        assert_eq!(IfMatch::Etag("AAAAAAAAAAE=".to_owned()).header_value(), "\"AAAAAAAAAAE=\"");
        assert_eq!(IfMatch::Etag("\"AAAAAAAAAAE=\"".to_owned()).header_value(), "\"AAAAAAAAAAE=\"");
    }

    #[test]
    fn proxy_comes_from_the_environment_names() {
        let env = |name: &str| match name {
            "https_proxy" => Some("http://proxy.local:3128".to_owned()),
            "NO_PROXY" => Some("localhost,127.0.0.1".to_owned()),
            _ => None,
        };
        assert_eq!(
            ProxySetting::FromEnvironment.resolve(env),
            ProxySetting::Url { url: "http://proxy.local:3128".to_owned(), no_proxy: Some("localhost,127.0.0.1".to_owned()) }
        );
        assert_eq!(ProxySetting::FromEnvironment.resolve(|_| None), ProxySetting::Disabled);
    }

    #[test]
    fn idempotency_follows_method_and_precondition() {
        let get = ApiRequest::new("get device", "d", Method::GET, "/devices/d".to_owned());
        assert!(get.is_idempotent());
        let create = ApiRequest::new("create device", "d", Method::PUT, "/devices/d".to_owned());
        assert!(!create.is_idempotent());
        assert!(create.if_match(IfMatch::Any).is_idempotent());
        let bulk = ApiRequest::new("bulk registry", "2 devices", Method::POST, "/devices".to_owned());
        assert!(!bulk.is_idempotent());
    }
}
