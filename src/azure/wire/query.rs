//! One page of a query result and the paging headers.

/// Header carrying the page size a client asks for.
pub const MAX_ITEM_COUNT_HEADER: &str = "x-ms-max-item-count";
/// Header carrying the opaque continuation token (both directions).
pub const CONTINUATION_HEADER: &str = "x-ms-continuation";
/// Header naming the kind of items (`Twin`, `Raw`, `DeviceJob`, `JobResponse`).
pub const ITEM_TYPE_HEADER: &str = "x-ms-item-type";

/// One page of results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryPage<T> {
    /// The items of this page (may be empty even when more pages follow).
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last page.
    pub continuation: Option<String>,
    /// `x-ms-item-type` as sent.
    pub item_type: Option<String>,
}

/// The kind of query result items, compared case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryItemType {
    /// Full twins (`SELECT *` over devices).
    Twin,
    /// Projections and aggregates.
    Raw,
    /// Per-device job records (`devices.jobs`).
    DeviceJob,
    /// Jobs (`/jobs/v2/query`).
    JobResponse,
}

impl QueryItemType {
    /// The wire spelling (`PascalCase`, as the real hub sends).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twin => "Twin",
            Self::Raw => "Raw",
            Self::DeviceJob => "DeviceJob",
            Self::JobResponse => "JobResponse",
        }
    }

    /// Parses any casing.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Twin, Self::Raw, Self::DeviceJob, Self::JobResponse].into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(text))
    }
}
