//! Executor tests over a real registry, and property tests for the parser.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::ast::{Aggregate, BinaryOp, Expr, Function, Literal, Path, Query, Select, SelectItem, SelectValue, Source, is_reserved};
use super::parser::parse_query;
use super::run::{PageItems, run_query};
use crate::azure::wire::{ConnectionState, Device, QueryItemType, Twin};
use crate::sim::prop_tree::Meta;
use crate::sim::registry::Registry;

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// 30 devices: building 40 + i % 3, floor i % 5, firmware 1.x/2.x, some connected.
fn registry() -> Registry {
    let mut registry = Registry::default();
    for index in 0..30_u32 {
        let device_id = format!("dev-{index:02}");
        registry.put_device(&device_id, &Device::new_with_generated_keys(&device_id), None, 1).unwrap();
        let record = registry.get_mut(&device_id).unwrap();
        let firmware = if index % 4 == 0 { "2.0.1" } else { "1.4.2" };
        record.twin.tags.merge(
            &object(
                json!({"building": 40 + index % 3, "floor": index % 5, "kind": if index % 2 == 0 { "doorLock" } else { "thermostat" }}),
            ),
            Meta::default(),
        );
        record.twin.reported.merge(&object(json!({"firmware": firmware, "battery": index * 3})), Meta::default());
        if index % 3 == 0 {
            record.connection_state = ConnectionState::Connected;
        }
    }
    registry
}

fn raw(text: &str) -> Vec<Value> {
    let page = run_query(&registry(), text, Some(1000), None).unwrap_or_else(|error| panic!("{text}: {error}"));
    match page.items {
        PageItems::Raw(rows) => rows,
        PageItems::Twins(bytes) => serde_json::from_slice(&bytes).unwrap(),
    }
}

fn twins_of(items: PageItems) -> Vec<Twin> {
    match items {
        PageItems::Twins(bytes) => serde_json::from_slice(&bytes).unwrap(),
        PageItems::Raw(_) => panic!("twins expected"),
    }
}

fn ids(text: &str) -> Vec<String> {
    raw(text).iter().map(|row| row["deviceId"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn where_filters_on_tags_reported_and_root_fields() {
    assert_eq!(ids("SELECT * FROM devices WHERE tags.building = 43").len(), 0);
    assert_eq!(ids("SELECT * FROM devices WHERE tags.building = 41").len(), 10);
    let old = ids("SELECT * FROM devices WHERE tags.building = 41 AND properties.reported.firmware < '2.0'");
    assert_eq!(old, vec!["dev-01", "dev-07", "dev-10", "dev-13", "dev-19", "dev-22", "dev-25"]);
    assert_eq!(ids("SELECT * FROM devices WHERE connectionState = 'Connected'").len(), 10);
    assert_eq!(ids("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'dev-2')").len(), 10);
    assert_eq!(ids("SELECT * FROM devices WHERE deviceId IN ['dev-03', 'nope', 'dev-04']"), vec!["dev-03", "dev-04"]);
    assert_eq!(ids("SELECT * FROM devices WHERE properties.reported.battery >= 84").len(), 2);
    assert_eq!(ids("SELECT * FROM devices WHERE properties.desired.$version = 1").len(), 30);
    assert_eq!(ids("SELECT * FROM devices WHERE IS_DEFINED(tags.missing)").len(), 0);
    assert_eq!(ids("SELECT TOP 3 * FROM devices WHERE status = 'enabled'"), vec!["dev-00", "dev-01", "dev-02"]);
}

#[test]
fn projections_use_alias_or_last_segment() {
    let rows = raw("SELECT TOP 2 deviceId, tags.building, properties.reported.firmware AS fw, tags.missing FROM devices");
    assert_eq!(
        rows,
        vec![json!({"deviceId": "dev-00", "building": 40, "fw": "2.0.1"}), json!({"deviceId": "dev-01", "building": 41, "fw": "1.4.2"})]
    );
}

#[test]
fn count_and_group_by() {
    assert_eq!(raw("SELECT COUNT() AS n FROM devices"), vec![json!({"n": 30})]);
    assert_eq!(raw("SELECT COUNT() AS n FROM devices WHERE tags.building = 99"), vec![json!({"n": 0})]);
    assert_eq!(raw("SELECT COUNT() FROM devices WHERE tags.floor = 0"), vec![json!({"$1": 6})]);
    let groups = raw(
        "SELECT tags.building AS building, COUNT() AS n, MAX(properties.reported.battery) AS maxBattery, AVG(properties.reported.battery) AS f FROM devices GROUP BY tags.building",
    );
    assert_eq!(
        groups,
        vec![
            json!({"building": 40, "n": 10, "maxBattery": 81, "f": 40.5}),
            json!({"building": 41, "n": 10, "maxBattery": 84, "f": 43.5}),
            json!({"building": 42, "n": 10, "maxBattery": 87, "f": 46.5})
        ]
    );
    let by_two =
        raw("SELECT tags.kind, properties.reported.firmware, COUNT() AS n FROM devices GROUP BY tags.kind, properties.reported.firmware");
    let total: u64 = by_two.iter().map(|row| row["n"].as_u64().unwrap()).sum();
    assert_eq!(total, 30);
    assert!(by_two.contains(&json!({"kind": "doorLock", "firmware": "2.0.1", "n": 8})), "{by_two:?}");
}

#[test]
fn item_types() {
    let registry = registry();
    assert_eq!(run_query(&registry, "SELECT * FROM devices", None, None).unwrap().item_type, QueryItemType::Twin);
    assert_eq!(run_query(&registry, "SELECT deviceId FROM devices", None, None).unwrap().item_type, QueryItemType::Raw);
    assert_eq!(
        run_query(&registry, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'x'", None, None).unwrap().item_type,
        QueryItemType::DeviceJob
    );
}

#[test]
fn paging_covers_everything_once_and_tokens_are_bound_to_the_query() {
    let registry = registry();
    let text = "SELECT * FROM devices WHERE tags.floor != 1";
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = run_query(&registry, text, Some(4), token.as_deref()).unwrap();
        let twins = twins_of(page.items);
        assert!(!twins.is_empty(), "no empty trailing pages");
        seen.extend(twins.into_iter().map(|twin| twin.device_id));
        pages += 1;
        match page.continuation {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 6);
    assert_eq!(seen.len(), 24);
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted, seen, "no duplicates, in id order");
    let first = run_query(&registry, text, Some(4), None).unwrap().continuation.unwrap();
    let error = run_query(&registry, "SELECT * FROM devices", Some(4), Some(&first)).unwrap_err();
    assert!(error.message.contains("different query"));
    assert!(run_query(&registry, text, Some(4), Some("garbage!")).unwrap_err().message.contains("not one this hub issued"));
}

#[test]
fn top_limits_across_pages_and_aggregates_page_too() {
    let registry = registry();
    let first = run_query(&registry, "SELECT TOP 5 * FROM devices", Some(3), None).unwrap();
    let second = run_query(&registry, "SELECT TOP 5 * FROM devices", Some(3), first.continuation.as_deref()).unwrap();
    let twins = twins_of(second.items);
    assert_eq!(twins.len(), 2);
    assert!(second.continuation.is_none());
    let text = "SELECT tags.floor, COUNT() AS n FROM devices GROUP BY tags.floor";
    let page = run_query(&registry, text, Some(2), None).unwrap();
    let rest = run_query(&registry, text, Some(10), page.continuation.as_deref()).unwrap();
    let (PageItems::Raw(a), PageItems::Raw(b)) = (page.items, rest.items) else { panic!() };
    assert_eq!(a.len() + b.len(), 5);
}

#[test]
fn semantic_errors_are_clear() {
    let registry = registry();
    let cases = [
        ("SELECT deviceId, COUNT() FROM devices", "must be an aggregate or appear in GROUP BY"),
        ("SELECT * FROM devices GROUP BY tags.floor", "cannot be combined with GROUP BY"),
        ("SELECT deviceId FROM devices.jobs", "SELECT * only"),
        ("", "the query is empty"),
    ];
    for (text, message) in cases {
        let error = run_query(&registry, text, None, None).unwrap_err();
        assert!(error.message.contains(message), "{text}: {}", error.message);
    }
    let long = format!("SELECT * FROM devices WHERE deviceId = '{}'", "x".repeat(9000));
    assert!(run_query(&registry, &long, None, None).unwrap_err().message.contains("at most 8192"));
    let syntax = run_query(&registry, "SELECT * FROM devices WHERE tags.building = = 3", None, None).unwrap_err();
    assert_eq!(syntax.message, "syntax error at line 1, column 45: expected a value, a property path or '(', found '='");
}

// ---- property tests for the parser ----

fn plain_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_$][a-zA-Z0-9_$]{0,8}".prop_filter("not a keyword", |name| !is_reserved(name))
}

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![plain_name(), "[ -~]{1,8}", "\\PC{1,4}"]
}

fn path() -> impl Strategy<Value = Path> {
    (plain_name(), prop::collection::vec(any_key(), 0..3)).prop_map(|(first, rest)| {
        let mut segments = vec![first];
        segments.extend(rest);
        Path(segments)
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        Just(Literal::Undefined),
        any::<bool>().prop_map(Literal::Bool),
        (0u32..1_000_000).prop_map(|n| Literal::Number(f64::from(n))),
        (0u32..10_000).prop_map(|n| Literal::Number(f64::from(n) / 64.0)),
        "\\PC{0,6}".prop_map(Literal::Str),
        "[ -~]{0,6}".prop_map(Literal::Str),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Eq,
        BinaryOp::NotEq,
        BinaryOp::Lt,
        BinaryOp::Gt,
        BinaryOp::LtEq,
        BinaryOp::GtEq,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
    ])
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![literal().prop_map(Expr::Literal), path().prop_map(Expr::Path)];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            inner.clone().prop_map(|e| Expr::Negate(Box::new(e))),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, a, b)| Expr::Binary(op, Box::new(a), Box::new(b))),
            (inner.clone(), prop::collection::vec(inner.clone(), 0..3), any::<bool>()).prop_map(|(value, list, negated)| Expr::In {
                value: Box::new(value),
                list,
                negated
            }),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Expr::Array),
            (prop::sample::select(Function::ALL.to_vec()), prop::collection::vec(inner, 2)).prop_map(|(function, mut args)| {
                args.truncate(function.arity());
                Expr::Call(function, args)
            }),
        ]
    })
}

fn select_item() -> impl Strategy<Value = SelectItem> {
    let value = prop_oneof![
        expr().prop_map(SelectValue::Expr),
        Just(SelectValue::Aggregate(Aggregate::Count)),
        expr().prop_map(|e| SelectValue::Aggregate(Aggregate::Sum(e))),
        expr().prop_map(|e| SelectValue::Aggregate(Aggregate::Max(e))),
    ];
    (value, prop::option::of("[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("not a keyword", |name| !is_reserved(name))))
        .prop_map(|(value, alias)| SelectItem { value, alias })
}

fn query() -> impl Strategy<Value = Query> {
    let select = prop_oneof![Just(Select::All), prop::collection::vec(select_item(), 1..4).prop_map(Select::Items)];
    let from = prop::sample::select(vec![Source::Devices, Source::Modules, Source::Jobs]);
    (prop::option::of(0u64..100_000), select, from, prop::option::of(expr()), prop::collection::vec(path(), 0..3))
        .prop_map(|(top, select, from, filter, group_by)| Query { top, select, from, filter, group_by })
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_the_same_query(query in query()) {
        let text = query.to_string();
        let parsed = parse_query(&text).map_err(|error| TestCaseError::fail(format!("{text}\n{error}")))?;
        prop_assert_eq!(parsed, query, "{}", text);
    }

    #[test]
    fn any_text_parses_or_fails_at_a_real_position(text in "\\PC{0,60}") {
        if let Err(error) = parse_query(&text) {
            prop_assert!(error.offset <= text.len());
            prop_assert!(error.line >= 1 && error.column >= 1);
            prop_assert!(!error.message.is_empty());
        }
    }

    #[test]
    fn mangled_valid_queries_never_panic(query in query(), cut in 0usize..200, insert in "[ -~]{0,3}") {
        let text = query.to_string();
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mangled = format!("{}{}{}", &text[..cut], insert, &text[cut..]);
        if let Err(error) = parse_query(&mangled) {
            prop_assert!(error.offset <= mangled.len());
        }
    }
}
