//! The parsed query, and a printer that writes it back as query text.

use std::fmt;
use std::fmt::Write as _;

/// `SELECT [TOP n] … FROM … [WHERE …] [GROUP BY …]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// `TOP n`.
    pub top: Option<u64>,
    /// What to return.
    pub select: Select,
    /// The collection.
    pub from: Source,
    /// `WHERE` condition.
    pub filter: Option<Expr>,
    /// `GROUP BY` paths.
    pub group_by: Vec<Path>,
}

/// The select list.
#[derive(Clone, Debug, PartialEq)]
pub enum Select {
    /// `*`: whole documents.
    All,
    /// Projections and aggregates.
    Items(Vec<SelectItem>),
}

/// One select item with its optional alias.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectItem {
    /// The expression or aggregate.
    pub value: SelectValue,
    /// `AS name`.
    pub alias: Option<String>,
}

/// A select item's value.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectValue {
    /// A scalar expression (usually a path).
    Expr(Expr),
    /// An aggregate over the rows (or the group).
    Aggregate(Aggregate),
}

/// An aggregate in the SELECT list (`COUNT()` and friends).
#[derive(Clone, Debug, PartialEq)]
pub enum Aggregate {
    /// `COUNT()`.
    Count,
    /// `SUM(x)`.
    Sum(Expr),
    /// `AVG(x)`.
    Avg(Expr),
    /// `MIN(x)`.
    Min(Expr),
    /// `MAX(x)`.
    Max(Expr),
}

/// The collection queried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `devices`: device twins.
    Devices,
    /// `devices.modules`: module twins.
    Modules,
    /// `devices.jobs`: per-device job records.
    Jobs,
}

/// A dotted path (`tags.location.building`); brackets in the text allow any key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<String>);

/// Literal constants.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `undefined`.
    Undefined,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Str(String),
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `=`
    Eq,
    /// `!=` / `<>`
    NotEq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    LtEq,
    /// `>=`
    GtEq,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// Built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `IS_DEFINED(x)`: assigned, even to null.
    IsDefined,
    /// `IS_NULL(x)`.
    IsNull,
    /// `IS_STRING(x)`.
    IsString,
    /// `IS_NUMBER(x)`.
    IsNumber,
    /// `IS_BOOL(x)`.
    IsBool,
    /// `IS_OBJECT(x)`.
    IsObject,
    /// `IS_ARRAY(x)`.
    IsArray,
    /// `STARTSWITH(text, prefix)`.
    StartsWith,
    /// `ENDSWITH(text, suffix)`.
    EndsWith,
    /// `CONTAINS(text, part)`.
    Contains,
}

impl Function {
    /// Every function, for lookups and tests.
    pub const ALL: [Self; 10] = [
        Self::IsDefined,
        Self::IsNull,
        Self::IsString,
        Self::IsNumber,
        Self::IsBool,
        Self::IsObject,
        Self::IsArray,
        Self::StartsWith,
        Self::EndsWith,
        Self::Contains,
    ];

    /// The name as written (case-insensitive in queries).
    pub fn name(self) -> &'static str {
        match self {
            Self::IsDefined => "IS_DEFINED",
            Self::IsNull => "IS_NULL",
            Self::IsString => "IS_STRING",
            Self::IsNumber => "IS_NUMBER",
            Self::IsBool => "IS_BOOL",
            Self::IsObject => "IS_OBJECT",
            Self::IsArray => "IS_ARRAY",
            Self::StartsWith => "STARTSWITH",
            Self::EndsWith => "ENDSWITH",
            Self::Contains => "CONTAINS",
        }
    }

    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Self::StartsWith | Self::EndsWith | Self::Contains => 2,
            _ => 1,
        }
    }

    /// Finds a function by name, ignoring case.
    pub fn lookup(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|function| function.name().eq_ignore_ascii_case(name))
    }
}

/// An expression of the WHERE clause or the SELECT list.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Literal),
    /// An attribute of the row.
    Path(Path),
    /// `[a, b, …]`.
    Array(Vec<Expr>),
    /// `NOT x`.
    Not(Box<Expr>),
    /// `-x`.
    Negate(Box<Expr>),
    /// `a op b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x IN [...]` / `x NIN [...]`.
    In {
        /// The tested value.
        value: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// True for `NIN`.
        negated: bool,
    },
    /// `F(args)`.
    Call(Function, Vec<Expr>),
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            Self::And => "AND",
            Self::Or => "OR",
            Self::Eq => "=",
            Self::NotEq => "!=",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::LtEq => "<=",
            Self::GtEq => ">=",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Rem => "%",
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, segment) in self.0.iter().enumerate() {
            let plain = segment.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
                && segment.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                && !is_reserved(segment);
            match (index, plain) {
                (0, true) => f.write_str(segment)?,
                (_, true) => write!(f, ".{segment}")?,
                (_, false) => write!(f, "[{}]", quote(segment))?,
            }
        }
        Ok(())
    }
}

/// Words that cannot start a path without brackets.
pub fn is_reserved(word: &str) -> bool {
    ["AND", "OR", "NOT", "IN", "NIN", "AS", "FROM", "WHERE", "GROUP", "BY", "SELECT", "TOP", "TRUE", "FALSE", "NULL", "UNDEFINED"]
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(word))
}

fn quote(text: &str) -> String {
    let mut quoted = String::from("'");
    for c in text.chars() {
        match c {
            '\'' => quoted.push_str("\\'"),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => {
                write!(quoted, "\\u{:04x}", u32::from(c)).ok();
            }
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Undefined => f.write_str("undefined"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Number(number) => write!(f, "{number}"),
            Self::Str(text) => f.write_str(&quote(text)),
        }
    }
}

impl fmt::Display for Expr {
    /// Fully parenthesised, so printing then parsing gives the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(literal) => write!(f, "{literal}"),
            Self::Path(path) => write!(f, "{path}"),
            Self::Array(items) => write!(f, "[{}]", join(items)),
            Self::Not(inner) => write!(f, "(NOT {inner})"),
            Self::Negate(inner) => write!(f, "(-{inner})"),
            Self::Binary(op, left, right) => write!(f, "({left} {} {right})", op.symbol()),
            Self::In { value, list, negated } => write!(f, "({value} {} [{}])", if *negated { "NIN" } else { "IN" }, join(list)),
            Self::Call(function, args) => write!(f, "{}({})", function.name(), join(args)),
        }
    }
}

fn join(items: &[Expr]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count => f.write_str("COUNT()"),
            Self::Sum(expr) => write!(f, "SUM({expr})"),
            Self::Avg(expr) => write!(f, "AVG({expr})"),
            Self::Min(expr) => write!(f, "MIN({expr})"),
            Self::Max(expr) => write!(f, "MAX({expr})"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if let Some(top) = self.top {
            write!(f, "TOP {top} ")?;
        }
        match &self.select {
            Select::All => f.write_str("*")?,
            Select::Items(items) => {
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    match &item.value {
                        SelectValue::Expr(expr) => write!(f, "{expr}")?,
                        SelectValue::Aggregate(aggregate) => write!(f, "{aggregate}")?,
                    }
                    if let Some(alias) = &item.alias {
                        write!(f, " AS {alias}")?;
                    }
                }
            }
        }
        let from = match self.from {
            Source::Devices => "devices",
            Source::Modules => "devices.modules",
            Source::Jobs => "devices.jobs",
        };
        write!(f, " FROM {from}")?;
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if !self.group_by.is_empty() {
            let paths: Vec<String> = self.group_by.iter().map(ToString::to_string).collect();
            write!(f, " GROUP BY {}", paths.join(", "))?;
        }
        Ok(())
    }
}
