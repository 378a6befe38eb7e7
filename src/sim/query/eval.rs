//! Evaluates expressions against a row, with the query language's rules: comparisons only
//! between values of the same primitive type, `undefined` for everything else, and a row
//! selected only when the condition is exactly `true`.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{BinaryOp, Expr, Function, Literal};

/// A value during evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum QValue<'a> {
    /// Not assigned (a missing property).
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An object or array.
    Json(Cow<'a, Value>),
}

impl<'a> QValue<'a> {
    /// Wraps a JSON value without copying it.
    pub fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(flag) => Self::Bool(*flag),
            Value::Number(number) => number.as_f64().map_or(Self::Undefined, Self::Number),
            Value::String(text) => Self::Str(Cow::Borrowed(text)),
            Value::Array(_) | Value::Object(_) => Self::Json(Cow::Borrowed(value)),
        }
    }

    /// The JSON form, or `None` for undefined.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Self::Undefined => None,
            Self::Null => Some(Value::Null),
            Self::Bool(flag) => Some(Value::Bool(flag)),
            Self::Number(number) => Some(number_json(number)),
            Self::Str(text) => Some(Value::String(text.into_owned())),
            Self::Json(value) => Some(value.into_owned()),
        }
    }
}

/// Whole numbers print as integers, as the service does.
pub fn number_json(number: f64) -> Value {
    #[allow(clippy::cast_possible_truncation)] // guarded: whole and within ±2^53
    if number.fract() == 0.0 && number.abs() < 9.007_199_254_740_992e15 {
        return Value::from(number as i64);
    }
    serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
}

/// Something a query can read attributes of.
pub trait Row {
    /// The value at `path`, or undefined.
    fn resolve(&self, path: &[String]) -> QValue<'_>;
}

/// True only when `condition` evaluates to boolean `true`.
pub fn matches<R: Row>(condition: &Expr, row: &R) -> bool {
    eval(condition, row) == QValue::Bool(true)
}

/// Evaluates `expr` against `row`.
pub fn eval<'a, R: Row>(expr: &'a Expr, row: &'a R) -> QValue<'a> {
    match expr {
        Expr::Literal(literal) => match literal {
            Literal::Null => QValue::Null,
            Literal::Undefined => QValue::Undefined,
            Literal::Bool(flag) => QValue::Bool(*flag),
            Literal::Number(number) => QValue::Number(*number),
            Literal::Str(text) => QValue::Str(Cow::Borrowed(text)),
        },
        Expr::Path(path) => row.resolve(&path.0),
        Expr::Array(items) => {
            let values: Option<Vec<Value>> = items.iter().map(|item| eval(item, row).into_json()).collect();
            values.map_or(QValue::Undefined, |values| QValue::Json(Cow::Owned(Value::Array(values))))
        }
        Expr::Not(inner) => match eval(inner, row) {
            QValue::Bool(flag) => QValue::Bool(!flag),
            _ => QValue::Undefined,
        },
        Expr::Negate(inner) => match eval(inner, row) {
            QValue::Number(number) => QValue::Number(-number),
            _ => QValue::Undefined,
        },
        Expr::Binary(op, left, right) => binary(*op, left, right, row),
        Expr::In { value, list, negated } => {
            let value = eval(value, row);
            if matches!(value, QValue::Undefined | QValue::Json(_)) {
                return QValue::Undefined;
            }
            let found = list.iter().any(|item| compare(&value, &eval(item, row)) == Some(Ordering::Equal));
            QValue::Bool(found != *negated)
        }
        Expr::Call(function, args) => call(*function, args, row),
    }
}

fn binary<'a, R: Row>(op: BinaryOp, left: &'a Expr, right: &'a Expr, row: &'a R) -> QValue<'a> {
    match op {
        BinaryOp::And => match (eval(left, row), eval(right, row)) {
            (QValue::Bool(false), _) | (_, QValue::Bool(false)) => QValue::Bool(false),
            (QValue::Bool(true), QValue::Bool(true)) => QValue::Bool(true),
            _ => QValue::Undefined,
        },
        BinaryOp::Or => match (eval(left, row), eval(right, row)) {
            (QValue::Bool(true), _) | (_, QValue::Bool(true)) => QValue::Bool(true),
            (QValue::Bool(false), QValue::Bool(false)) => QValue::Bool(false),
            _ => QValue::Undefined,
        },
        BinaryOp::Eq | BinaryOp::NotEq => {
            let ordering = compare(&eval(left, row), &eval(right, row));
            ordering.map_or(QValue::Undefined, |ordering| QValue::Bool((ordering == Ordering::Equal) == (op == BinaryOp::Eq)))
        }
        BinaryOp::Lt | BinaryOp::Gt | BinaryOp::LtEq | BinaryOp::GtEq => {
            let (left, right) = (eval(left, row), eval(right, row));
            let orderable = matches!((&left, &right), (QValue::Number(_), QValue::Number(_)) | (QValue::Str(_), QValue::Str(_)));
            match compare(&left, &right).filter(|_| orderable) {
                Some(ordering) => QValue::Bool(match op {
                    BinaryOp::Lt => ordering == Ordering::Less,
                    BinaryOp::Gt => ordering == Ordering::Greater,
                    BinaryOp::LtEq => ordering != Ordering::Greater,
                    _ => ordering != Ordering::Less,
                }),
                None => QValue::Undefined,
            }
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            let (QValue::Number(a), QValue::Number(b)) = (eval(left, row), eval(right, row)) else {
                return QValue::Undefined;
            };
            let result = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                _ => a % b,
            };
            if result.is_finite() { QValue::Number(result) } else { QValue::Undefined }
        }
    }
}

/// Orders two primitives of the same type; `None` when they cannot be compared.
pub fn compare(left: &QValue<'_>, right: &QValue<'_>) -> Option<Ordering> {
    match (left, right) {
        (QValue::Number(a), QValue::Number(b)) => a.partial_cmp(b),
        (QValue::Str(a), QValue::Str(b)) => Some(a.cmp(b)),
        (QValue::Bool(a), QValue::Bool(b)) => Some(a.cmp(b)),
        (QValue::Null, QValue::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn call<'a, R: Row>(function: Function, args: &'a [Expr], row: &'a R) -> QValue<'a> {
    let Some(first) = args.first().map(|arg| eval(arg, row)) else {
        return QValue::Undefined;
    };
    let flag = match function {
        Function::IsDefined => !matches!(first, QValue::Undefined),
        Function::IsNull => matches!(first, QValue::Null),
        Function::IsString => matches!(first, QValue::Str(_)),
        Function::IsNumber => matches!(first, QValue::Number(_)),
        Function::IsBool => matches!(first, QValue::Bool(_)),
        Function::IsObject => matches!(&first, QValue::Json(value) if value.is_object()),
        Function::IsArray => matches!(&first, QValue::Json(value) if value.is_array()),
        Function::StartsWith | Function::EndsWith | Function::Contains => {
            let second = args.get(1).map_or(QValue::Undefined, |arg| eval(arg, row));
            let (QValue::Str(text), QValue::Str(part)) = (first, second) else {
                return QValue::Undefined;
            };
            match function {
                Function::StartsWith => text.starts_with(part.as_ref()),
                Function::EndsWith => text.ends_with(part.as_ref()),
                _ => text.contains(part.as_ref()),
            }
        }
    };
    QValue::Bool(flag)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::parser::parse_condition;
    use super::*;

    /// A row backed by a JSON document.
    struct JsonRow(Value);

    impl Row for JsonRow {
        fn resolve(&self, path: &[String]) -> QValue<'_> {
            let mut current = &self.0;
            for segment in path {
                match current.get(segment) {
                    Some(next) => current = next,
                    None => return QValue::Undefined,
                }
            }
            QValue::from_json(current)
        }
    }

    fn check(condition: &str, row: &Value) -> bool {
        matches(&parse_condition(condition).unwrap(), &JsonRow(row.clone()))
    }

    #[test]
    fn comparisons_respect_types() {
        let row = json!({"n": 43, "s": "43", "b": true, "z": null, "o": {"x": 1}});
        assert!(check("n = 43", &row));
        assert!(!check("s = 43", &row), "string never equals number");
        assert!(!check("s != 43", &row), "different types: undefined, so not selected either");
        assert!(check("s = '43'", &row));
        assert!(check("n >= 43 AND n < 44", &row));
        assert!(check("s > '4' AND s <= '5'", &row));
        assert!(!check("b > false", &row), "booleans are not ordered");
        assert!(check("b = true AND z = null", &row));
        assert!(!check("o = 1", &row));
        assert!(check("n + 1 = 44 AND n * 2 = 86 AND n % 10 = 3 AND -n = -43", &row));
        assert!(!check("n / 0 = 1", &row));
    }

    #[test]
    fn missing_properties_are_undefined() {
        let row = json!({"a": 1});
        assert!(!check("missing = 1", &row));
        assert!(!check("missing != 1", &row));
        assert!(!check("NOT (missing = 1)", &row), "NOT undefined is undefined");
        assert!(check("a = 1 OR missing = 1", &row));
        assert!(!check("a = 1 AND missing = 1", &row));
        assert!(check("NOT IS_DEFINED(missing)", &row));
    }

    #[test]
    fn in_and_nin() {
        let row = json!({"c": "wifi", "n": 3});
        assert!(check("c IN ['wired', 'wifi']", &row));
        assert!(!check("c NIN ['wired', 'wifi']", &row));
        assert!(check("n NIN [1, 2]", &row));
        assert!(!check("missing NIN [1, 2]", &row), "undefined NIN is undefined");
    }

    #[test]
    fn functions() {
        let row = json!({"id": "b43-f3-lock-0001", "z": null, "o": {}, "a": [1], "n": 1.5, "t": false});
        assert!(check("IS_DEFINED(z) AND IS_NULL(z) AND NOT IS_NULL(id)", &row));
        assert!(check("IS_STRING(id) AND IS_NUMBER(n) AND IS_BOOL(t) AND IS_OBJECT(o) AND IS_ARRAY(a)", &row));
        assert!(check("STARTSWITH(id, 'b43-') AND ENDSWITH(id, '0001') AND CONTAINS(id, 'lock')", &row));
        assert!(!check("STARTSWITH(n, '1')", &row));
        assert!(check("is_defined(o) and startswith(id, 'b')", &row), "names are case-insensitive");
    }
}
