//! Runs a query over the registry and cuts the result into pages with opaque continuation
//! tokens bound to the query text.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::ast::{Aggregate, Expr, Path, Query, Select, SelectItem, SelectValue, Source};
use super::eval::{QValue, Row, compare, eval, matches, number_json};
use super::parser::parse_query;
use crate::azure::wire::QueryItemType;
use crate::sim::error::HubError;
use crate::sim::record::DeviceRecord;
use crate::sim::registry::Registry;
use crate::sim::twin_json::TwinJson;

/// Longest query text accepted (the service rejects queries over about 8 KB).
pub const MAX_QUERY_BYTES: usize = 8192;
/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest page served.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The items of one page.
#[derive(Debug)]
pub enum PageItems {
    /// Whole twins (`SELECT *`), already serialized as a JSON array: they are written straight
    /// from the records while the registry is locked.
    Twins(Vec<u8>),
    /// Projections, aggregates, job records.
    Raw(Vec<Value>),
}

/// One page of a query result.
#[derive(Debug)]
pub struct QueryPageResult {
    /// The rows of this page, in the form they are answered.
    pub items: PageItems,
    /// `x-ms-item-type`.
    pub item_type: QueryItemType,
    /// Token for the next page, when there is one.
    pub continuation: Option<String>,
}

/// Where a paged query resumes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Continuation {
    /// Hash of the query text the token belongs to.
    #[serde(rename = "q")]
    query_hash: String,
    /// Last device id served (streaming queries).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// Rows already served.
    #[serde(rename = "n", default)]
    served: u64,
}

/// Parses, checks and runs `text`, returning the page after `continuation` (no job records).
pub fn run_query(
    registry: &Registry,
    text: &str,
    page_size: Option<usize>,
    continuation: Option<&str>,
) -> Result<QueryPageResult, HubError> {
    run_query_with_jobs(registry, Vec::new, text, page_size, continuation)
}

/// As [`run_query`], with `device_jobs` giving the `devices.jobs` rows when the query reads them.
pub fn run_query_with_jobs(
    registry: &Registry,
    device_jobs: impl FnOnce() -> Vec<Value>,
    text: &str,
    page_size: Option<usize>,
    continuation: Option<&str>,
) -> Result<QueryPageResult, HubError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(HubError::invalid(format!("the query is {} bytes long; at most {MAX_QUERY_BYTES} are allowed", text.len())));
    }
    if text.trim().is_empty() {
        return Err(HubError::invalid("the query is empty"));
    }
    let query = parse_query(text).map_err(|error| HubError::invalid(error.to_string()))?;
    check(&query)?;
    let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let hash = query_hash(text);
    let resume = match continuation.filter(|token| !token.is_empty()) {
        Some(token) => decode_token(token, &hash)?,
        None => Continuation { query_hash: hash.clone(), ..Continuation::default() },
    };
    match query.from {
        // No module identities exist in the simulator: the collection is truthfully empty.
        Source::Modules => {
            Ok(QueryPageResult { items: PageItems::Twins(b"[]".to_vec()), item_type: QueryItemType::Twin, continuation: None })
        }
        Source::Jobs => job_page(device_jobs(), &query, page_size, &resume),
        Source::Devices if is_aggregate(&query) => aggregate_page(registry, &query, page_size, &resume),
        Source::Devices => stream_page(registry, &query, page_size, &resume),
    }
}

/// A `devices.jobs` row: paths may start with `devices.jobs.` and match fields case-insensitively.
struct JobRow<'a>(&'a Value);

impl Row for JobRow<'_> {
    fn resolve(&self, path: &[String]) -> QValue<'_> {
        let rest = match path {
            [devices, jobs, rest @ ..] if devices.eq_ignore_ascii_case("devices") && jobs.eq_ignore_ascii_case("jobs") => rest,
            _ => path,
        };
        let mut node = self.0;
        for key in rest {
            let Some(next) = node.as_object().and_then(|object| object.iter().find(|(name, _)| name.eq_ignore_ascii_case(key))) else {
                return QValue::Undefined;
            };
            node = next.1;
        }
        QValue::from_json(node)
    }
}

/// One page of per-device job rows (already in job, device order).
fn job_page(rows: Vec<Value>, query: &Query, page_size: usize, resume: &Continuation) -> Result<QueryPageResult, HubError> {
    let limit = query.top.map_or(u64::MAX, |top| top.saturating_sub(resume.served));
    let take = usize::try_from(limit).unwrap_or(usize::MAX).min(page_size);
    let skip = usize::try_from(resume.served).unwrap_or(usize::MAX);
    let mut matching =
        rows.into_iter().filter(|row| query.filter.as_ref().is_none_or(|condition| matches(condition, &JobRow(row)))).skip(skip);
    let page: Vec<Value> = matching.by_ref().take(take).collect();
    let served = resume.served + page.len() as u64;
    let more = page.len() == take && served < query.top.unwrap_or(u64::MAX) && matching.next().is_some();
    let continuation =
        more.then(|| encode_token(&Continuation { query_hash: resume.query_hash.clone(), after: None, served })).transpose()?;
    Ok(QueryPageResult { items: PageItems::Raw(page), item_type: QueryItemType::DeviceJob, continuation })
}

fn is_aggregate(query: &Query) -> bool {
    !query.group_by.is_empty()
        || matches!(&query.select, Select::Items(items) if items.iter().any(|item| matches!(item.value, SelectValue::Aggregate(_))))
}

/// The checks the parser cannot make: what may be selected with what.
fn check(query: &Query) -> Result<(), HubError> {
    if query.from == Source::Jobs && (query.select != Select::All || !query.group_by.is_empty()) {
        return Err(HubError::invalid("queries on devices.jobs support SELECT * only (no projections, aggregates or GROUP BY)"));
    }
    if !is_aggregate(query) {
        return Ok(());
    }
    let Select::Items(items) = &query.select else {
        return Err(HubError::invalid("SELECT * cannot be combined with GROUP BY; select the grouped properties and aggregates"));
    };
    for item in items {
        if let SelectValue::Expr(expr) = &item.value {
            let grouped = matches!(expr, Expr::Path(path) if query.group_by.contains(path));
            if !grouped {
                return Err(HubError::invalid(format!("'{expr}' must be an aggregate or appear in GROUP BY when the query aggregates")));
            }
        }
    }
    Ok(())
}

fn query_hash(text: &str) -> String {
    crate::sim::text::hex(&Sha256::digest(text.as_bytes())[..8])
}

fn encode_token(continuation: &Continuation) -> Result<String, HubError> {
    let bytes = serde_json::to_vec(continuation).map_err(|error| HubError::not_encoded("the continuation token", &error))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn decode_token(token: &str, hash: &str) -> Result<Continuation, HubError> {
    let decoded: Continuation = URL_SAFE_NO_PAD
        .decode(token.trim().as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| HubError::invalid("the continuation token is not one this hub issued"))?;
    if decoded.query_hash != hash {
        return Err(HubError::invalid("the continuation token belongs to a different query; send the same query text with the token"));
    }
    Ok(decoded)
}

/// Row-by-row queries: resume after the last device id served, in id order.
fn stream_page(registry: &Registry, query: &Query, page_size: usize, resume: &Continuation) -> Result<QueryPageResult, HubError> {
    let limit = query.top.map_or(u64::MAX, |top| top.saturating_sub(resume.served));
    let take = usize::try_from(limit).unwrap_or(usize::MAX).min(page_size);
    let mut matching = registry
        .iter_from(resume.after.as_deref())
        .filter(|record| query.filter.as_ref().is_none_or(|condition| matches(condition, *record)));
    let page: Vec<&DeviceRecord> = matching.by_ref().take(take).collect();
    let served = resume.served + page.len() as u64;
    let more = page.len() == take && served < query.top.unwrap_or(u64::MAX) && matching.next().is_some();
    let continuation = more
        .then(|| {
            encode_token(&Continuation {
                query_hash: resume.query_hash.clone(),
                after: page.last().map(|record| record.device_id.clone()),
                served,
            })
        })
        .transpose()?;
    let (items, item_type) = match &query.select {
        Select::All => (PageItems::Twins(serialize_twins(&page)?), QueryItemType::Twin),
        Select::Items(items) => {
            let names = field_names(items);
            let rows = page.iter().map(|record| project(items, &names, record)).collect();
            (PageItems::Raw(rows), QueryItemType::Raw)
        }
    };
    Ok(QueryPageResult { items, item_type, continuation })
}

fn serialize_twins(records: &[&DeviceRecord]) -> Result<Vec<u8>, HubError> {
    let twins: Vec<TwinJson<'_>> = records.iter().map(|record| TwinJson(record)).collect();
    serde_json::to_vec(&twins).map_err(|error| HubError::not_encoded("the page of twins", &error))
}

/// Output names: the alias, the last path segment, or `$1`, `$2`, … for anything else.
fn field_names(items: &[SelectItem]) -> Vec<String> {
    let mut unnamed = 0;
    items
        .iter()
        .map(|item| match (&item.alias, &item.value) {
            (Some(alias), _) => alias.clone(),
            (None, SelectValue::Expr(Expr::Path(Path(segments)))) if !segments.is_empty() => segments[segments.len() - 1].clone(),
            _ => {
                unnamed += 1;
                format!("${unnamed}")
            }
        })
        .collect()
}

fn project(items: &[SelectItem], names: &[String], row: &DeviceRecord) -> Value {
    let mut object = Map::new();
    for (item, name) in items.iter().zip(names) {
        if let SelectValue::Expr(expr) = &item.value
            && let Some(value) = eval(expr, row).into_json()
        {
            object.insert(name.clone(), value);
        }
    }
    Value::Object(object)
}

/// Aggregating queries: computed whole, then served in slices.
fn aggregate_page(registry: &Registry, query: &Query, page_size: usize, resume: &Continuation) -> Result<QueryPageResult, HubError> {
    let Select::Items(items) = &query.select else {
        return Err(HubError::invalid("SELECT * cannot be combined with GROUP BY"));
    };
    let names = field_names(items);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for record in registry.iter_from(None) {
        if query.filter.as_ref().is_some_and(|condition| !matches(condition, record)) {
            continue;
        }
        let key_values: Vec<Option<Value>> = query.group_by.iter().map(|path| record.resolve(&path.0).into_json()).collect();
        let key = serde_json::to_string(&key_values).map_err(|error| HubError::not_encoded("a GROUP BY key", &error))?;
        let group = groups.entry(key).or_insert_with(|| Group::new(key_values, items));
        group.add(items, record);
    }
    // An aggregate without GROUP BY over no rows still answers one row (COUNT() = 0).
    if groups.is_empty() && query.group_by.is_empty() {
        groups.insert(String::new(), Group::new(Vec::new(), items));
    }
    let mut rows: Vec<Value> = groups.into_values().map(|group| group.finish(items, &names, &query.group_by)).collect();
    if let Some(top) = query.top {
        rows.truncate(usize::try_from(top).unwrap_or(usize::MAX));
    }
    let start = usize::try_from(resume.served).unwrap_or(usize::MAX).min(rows.len());
    let end = (start + page_size).min(rows.len());
    let continuation = (end < rows.len())
        .then(|| encode_token(&Continuation { query_hash: resume.query_hash.clone(), after: None, served: end as u64 }))
        .transpose()?;
    let page = rows.drain(start..end).collect();
    Ok(QueryPageResult { items: PageItems::Raw(page), item_type: QueryItemType::Raw, continuation })
}

/// One group's key and running aggregates.
struct Group {
    key: Vec<Option<Value>>,
    accumulators: Vec<Accumulator>,
}

#[derive(Clone)]
enum Accumulator {
    None,
    Count(u64),
    Sum { total: f64 },
    Avg { total: f64, count: u64 },
    Extreme { best: Option<QValue<'static>>, want_max: bool },
}

impl Group {
    fn new(key: Vec<Option<Value>>, items: &[SelectItem]) -> Self {
        let accumulators = items
            .iter()
            .map(|item| match &item.value {
                SelectValue::Expr(_) => Accumulator::None,
                SelectValue::Aggregate(Aggregate::Count) => Accumulator::Count(0),
                SelectValue::Aggregate(Aggregate::Sum(_)) => Accumulator::Sum { total: 0.0 },
                SelectValue::Aggregate(Aggregate::Avg(_)) => Accumulator::Avg { total: 0.0, count: 0 },
                SelectValue::Aggregate(Aggregate::Min(_)) => Accumulator::Extreme { best: None, want_max: false },
                SelectValue::Aggregate(Aggregate::Max(_)) => Accumulator::Extreme { best: None, want_max: true },
            })
            .collect();
        Self { key, accumulators }
    }

    fn add(&mut self, items: &[SelectItem], row: &DeviceRecord) {
        for (item, accumulator) in items.iter().zip(&mut self.accumulators) {
            let argument = match &item.value {
                SelectValue::Aggregate(Aggregate::Sum(expr) | Aggregate::Avg(expr) | Aggregate::Min(expr) | Aggregate::Max(expr)) => {
                    Some(owned(eval(expr, row)))
                }
                _ => None,
            };
            match (accumulator, argument) {
                (Accumulator::Count(count), _) => *count += 1,
                (Accumulator::Sum { total }, Some(QValue::Number(number))) => *total += number,
                (Accumulator::Avg { total, count }, Some(QValue::Number(number))) => {
                    *total += number;
                    *count += 1;
                }
                (Accumulator::Extreme { best, want_max }, Some(value @ (QValue::Number(_) | QValue::Str(_)))) => {
                    let better = match best.as_ref().and_then(|current| compare(&value, current)) {
                        Some(ordering) => (ordering == std::cmp::Ordering::Greater) == *want_max && ordering.is_ne(),
                        // First value, or a type change (numbers win over strings).
                        None => best.is_none() || matches!(value, QValue::Number(_)),
                    };
                    if better {
                        *best = Some(value);
                    }
                }
                _ => {}
            }
        }
    }

    fn finish(self, items: &[SelectItem], names: &[String], group_by: &[Path]) -> Value {
        let mut object = Map::new();
        for ((item, name), accumulator) in items.iter().zip(names).zip(self.accumulators) {
            let value = match (accumulator, &item.value) {
                (Accumulator::Count(count), _) => Some(Value::from(count)),
                (Accumulator::Sum { total }, _) => Some(number_json(total)),
                #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
                (Accumulator::Avg { total, count }, _) => (count > 0).then(|| number_json(total / count as f64)),
                (Accumulator::Extreme { best, .. }, _) => best.and_then(QValue::into_json),
                (Accumulator::None, SelectValue::Expr(Expr::Path(path))) => {
                    group_by.iter().position(|grouped| grouped == path).and_then(|index| self.key.get(index).cloned().flatten())
                }
                (Accumulator::None, _) => None,
            };
            if let Some(value) = value {
                object.insert(name.clone(), value);
            }
        }
        Value::Object(object)
    }
}

fn owned(value: QValue<'_>) -> QValue<'static> {
    match value {
        QValue::Undefined => QValue::Undefined,
        QValue::Null => QValue::Null,
        QValue::Bool(flag) => QValue::Bool(flag),
        QValue::Number(number) => QValue::Number(number),
        QValue::Str(text) => QValue::Str(std::borrow::Cow::Owned(text.into_owned())),
        QValue::Json(value) => QValue::Json(std::borrow::Cow::Owned(value.into_owned())),
    }
}
