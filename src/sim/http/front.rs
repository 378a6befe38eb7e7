//! The request front end: what every service request needs before and after routing —
//! api-version, query string, `If-Match`, `Authorization` — taken from the request head once,
//! then the body read up to the API's limit and decoded as JSON on demand.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use super::api_version::ApiVersions;
use super::front_error::FrontError;
use super::query_string::QueryString;
use crate::sim::precondition::Precondition;

/// One API's front-end rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontEnd {
    /// Which `api-version` values it accepts.
    pub api_versions: ApiVersions,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

/// A request's head as the front end read it; the body is still unread. Its `Debug` names the
/// headers but never shows their values (`Authorization` holds a token).
pub struct Head {
    /// The HTTP method.
    pub method: Method,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The query parameters.
    pub query: QueryString,
    /// The accepted `api-version`.
    pub api_version: String,
    /// The `If-Match` precondition, when one was sent.
    pub precondition: Option<Precondition>,
}

impl Head {
    /// A header as text (`None` when absent or not visible ASCII).
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Authorization` header (a SAS token), for `Policies::authorize`.
    pub fn authorization(&self) -> Option<&str> {
        self.header(header::AUTHORIZATION)
    }
}

/// A request ready for its operation: the head and the whole body. Its `Debug` gives the body's
/// length only (a body may carry keys).
pub struct Call {
    /// The head.
    pub head: Head,
    /// The body (empty when none was sent).
    pub body: Bytes,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("query", &self.query)
            .field("api_version", &self.api_version)
            .field("precondition", &self.precondition)
            .finish()
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("head", &self.head).field("body_bytes", &self.body.len()).finish()
    }
}

impl FrontEnd {
    /// Reads the head: query string, api-version (refused here when missing or unsupported) and
    /// `If-Match`. Nothing of the body is read, so an API can still refuse a request cheaply.
    pub fn head(&self, parts: Parts) -> Result<Head, FrontError> {
        let query = QueryString::parse(parts.uri.query());
        let api_version = self.api_versions.check(query.get("api-version"))?;
        let precondition = Precondition::parse(parts.headers.get(header::IF_MATCH).and_then(|value| value.to_str().ok()));
        Ok(Head { method: parts.method, path: parts.uri.path().to_owned(), headers: parts.headers, query, api_version, precondition })
    }

    /// Reads the whole body, refusing it once it passes the limit.
    pub async fn read_body(&self, head: Head, body: Body) -> Result<Call, FrontError> {
        let limit = self.max_body_bytes;
        // A body that fails mid-read is as unusable as one too large; the client sees the limit.
        let body = axum::body::to_bytes(body, limit).await.map_err(|_| FrontError::BodyTooLarge { limit })?;
        Ok(Call { head, body })
    }
}

impl Call {
    /// A header as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.head.header(name)
    }

    /// The `Authorization` header.
    pub fn authorization(&self) -> Option<&str> {
        self.head.authorization()
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.head.query.get(name)
    }

    /// True when no body, or only whitespace, was sent.
    pub fn body_is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// The body as JSON of type `T`; `what` names it in words for the error.
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &'static str) -> Result<T, FrontError> {
        if self.body_is_empty() {
            return Err(FrontError::NoBody { what });
        }
        serde_json::from_slice(&self.body).map_err(|error| {
            let detail = error.to_string();
            if error.is_syntax() || error.is_eof() { FrontError::NotJson { what, detail } } else { FrontError::WrongShape { what, detail } }
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use serde_json::Value;

    use super::*;

    const FRONT: FrontEnd =
        FrontEnd { api_versions: ApiVersions { dates: Some(("2016-02-03", "2024-12-31")), example: "2021-04-12" }, max_body_bytes: 16 };

    fn parts(uri: &str, if_match: Option<&str>) -> Parts {
        let mut request = Request::builder().method(Method::PUT).uri(uri);
        if let Some(etag) = if_match {
            request = request.header(header::IF_MATCH, etag);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn debug_output_never_shows_header_values_or_the_body() {
        let mut parts = parts("/devices/d1?api-version=2021-04-12", None);
        parts.headers.insert(header::AUTHORIZATION, "SharedAccessSignature sr=x&sig=secret-signature&se=1".parse().unwrap());
        let call = Call { head: FRONT.head(parts).unwrap(), body: Bytes::from_static(b"{\"primaryKey\":\"secret-key\"}") };
        let shown = format!("{call:?}");
        assert!(shown.contains("authorization") && shown.contains("body_bytes"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn the_head_carries_query_version_and_precondition() {
        let head = FRONT.head(parts("/devices/d%201?api-version=2021-04-12&top=5", Some("\"AAAAAAAAAAE=\""))).unwrap();
        assert_eq!(head.path, "/devices/d%201");
        assert_eq!(head.api_version, "2021-04-12");
        assert_eq!(head.query.get("top"), Some("5"));
        assert_eq!(head.precondition, Some(Precondition::Etag("AAAAAAAAAAE=".to_owned())));
        assert_eq!(FRONT.head(parts("/devices", None)).unwrap_err(), FrontError::MissingApiVersion { example: "2021-04-12" });
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let head = || FRONT.head(parts("/devices/d1?api-version=2021-04-12", None)).unwrap();
        let call = FRONT.read_body(head(), Body::from(vec![b' '; 16])).await.unwrap();
        assert_eq!(call.body.len(), 16);
        let refused = FRONT.read_body(head(), Body::from(vec![b' '; 17])).await.unwrap_err();
        assert_eq!(refused, FrontError::BodyTooLarge { limit: 16 });
    }

    #[tokio::test]
    async fn json_bodies_are_told_apart_by_what_is_wrong() {
        let call = |body: &'static str| async move {
            FRONT.read_body(FRONT.head(parts("/x?api-version=2021-04-12", None)).unwrap(), Body::from(body)).await.unwrap()
        };
        assert_eq!(call(" \n").await.json::<Value>("a Device").unwrap_err(), FrontError::NoBody { what: "a Device" });
        assert!(matches!(call("{\"a\":").await.json::<Value>("a Device"), Err(FrontError::NotJson { .. })));
        assert!(matches!(call("[1]").await.json::<Vec<String>>("names"), Err(FrontError::WrongShape { .. })));
        assert_eq!(call("[\"a\"]").await.json::<Vec<String>>("names").unwrap(), vec!["a".to_owned()]);
    }
}
