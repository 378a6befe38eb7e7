//! A recursive-descent parser for the `IoT` Hub query language, with errors that name the
//! line and column.

use super::ast::{Aggregate, BinaryOp, Expr, Function, Literal, Path, Query, Select, SelectItem, SelectValue, Source, is_reserved};
use super::lexer::{LexError, Spanned, Token, tokenize};

/// A syntax error at a place in the query text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the text.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "syntax error at line {}, column {}: {}", self.line, self.column, self.message)
    }
}

/// Parses a whole query.
pub fn parse_query(text: &str) -> Result<Query, ParseError> {
    let tokens = tokenize(text).map_err(|LexError { offset, message }| located(text, offset, message))?;
    let mut parser = Parser { text, tokens, position: 0 };
    let query = parser.query()?;
    parser.expect_end("after the end of the query")?;
    Ok(query)
}

/// Parses a bare condition (a job's `queryCondition`).
pub fn parse_condition(text: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(text).map_err(|LexError { offset, message }| located(text, offset, message))?;
    let mut parser = Parser { text, tokens, position: 0 };
    let condition = parser.expr()?;
    parser.expect_end("after the condition")?;
    Ok(condition)
}

fn located(text: &str, offset: usize, message: String) -> ParseError {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    ParseError { offset, line, column, message }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Spanned>,
    position: usize,
}

const AGGREGATES: [&str; 5] = ["COUNT", "SUM", "AVG", "MIN", "MAX"];

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.position).map_or(&Token::End, |spanned| &spanned.token)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens.get(self.position + ahead).map_or(&Token::End, |spanned| &spanned.token)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.position).map_or(self.text.len(), |spanned| spanned.offset)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.position < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(located(self.text, self.offset(), message.into()))
    }

    fn unexpected<T>(&self, expected: &str) -> Result<T, ParseError> {
        self.error(format!("expected {expected}, found {}", self.peek()))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek().is_keyword(keyword) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), ParseError> {
        if self.eat_keyword(keyword) { Ok(()) } else { self.unexpected(keyword) }
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == token {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &Token, what: &str) -> Result<(), ParseError> {
        if self.eat(token) { Ok(()) } else { self.unexpected(what) }
    }

    fn expect_end(&self, context: &str) -> Result<(), ParseError> {
        if *self.peek() == Token::End { Ok(()) } else { self.error(format!("unexpected {} {context}", self.peek())) }
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        self.expect_keyword("SELECT")?;
        let top = if self.eat_keyword("TOP") { Some(self.top_count()?) } else { None };
        let select = if self.eat(&Token::Star) { Select::All } else { Select::Items(self.select_items()?) };
        self.expect_keyword("FROM")?;
        let from = self.source()?;
        let filter = if self.eat_keyword("WHERE") { Some(self.expr()?) } else { None };
        let mut group_by = Vec::new();
        if self.eat_keyword("GROUP") {
            self.expect_keyword("BY")?;
            loop {
                group_by.push(self.path()?);
                if !self.eat(&Token::Comma) {
                    break;
                }
            }
        }
        Ok(Query { top, select, from, filter, group_by })
    }

    fn top_count(&mut self) -> Result<u64, ParseError> {
        match self.peek() {
            Token::Number(number) if number.fract() == 0.0 && *number >= 0.0 && *number < 9.0e15 => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                // checked: whole, non-negative, < 2^53
                let count = *number as u64;
                self.advance();
                Ok(count)
            }
            _ => self.unexpected("a whole number after TOP"),
        }
    }

    fn select_items(&mut self) -> Result<Vec<SelectItem>, ParseError> {
        let mut items = Vec::new();
        loop {
            let value = match self.aggregate()? {
                Some(aggregate) => SelectValue::Aggregate(aggregate),
                None => SelectValue::Expr(self.expr()?),
            };
            let alias = if self.eat_keyword("AS") {
                match self.advance() {
                    Token::Ident(name) if !is_reserved(&name) => Some(name),
                    _ => {
                        self.position -= 1;
                        return self.unexpected("a name after AS");
                    }
                }
            } else {
                None
            };
            items.push(SelectItem { value, alias });
            if !self.eat(&Token::Comma) {
                return Ok(items);
            }
        }
    }

    fn aggregate(&mut self) -> Result<Option<Aggregate>, ParseError> {
        let Token::Ident(name) = self.peek() else {
            return Ok(None);
        };
        let Some(kind) = AGGREGATES.iter().find(|aggregate| aggregate.eq_ignore_ascii_case(name)).copied() else {
            return Ok(None);
        };
        if *self.peek_at(1) != Token::LParen {
            return Ok(None);
        }
        self.position += 2;
        if kind == "COUNT" {
            self.expect(&Token::RParen, "')' (COUNT takes no argument: COUNT())")?;
            return Ok(Some(Aggregate::Count));
        }
        let argument = self.expr()?;
        self.expect(&Token::RParen, "')'")?;
        Ok(Some(match kind {
            "SUM" => Aggregate::Sum(argument),
            "AVG" => Aggregate::Avg(argument),
            "MIN" => Aggregate::Min(argument),
            _ => Aggregate::Max(argument),
        }))
    }

    fn source(&mut self) -> Result<Source, ParseError> {
        let start = self.offset();
        let Token::Ident(first) = self.advance() else {
            self.position -= 1;
            return self.unexpected("a collection (devices, devices.modules or devices.jobs)");
        };
        let mut name = first;
        while self.eat(&Token::Dot) {
            if let Token::Ident(part) = self.advance() {
                name.push('.');
                name.push_str(&part);
            } else {
                self.position -= 1;
                return self.unexpected("a name after '.'");
            }
        }
        match name.to_ascii_lowercase().as_str() {
            "devices" => Ok(Source::Devices),
            "devices.modules" => Ok(Source::Modules),
            "devices.jobs" => Ok(Source::Jobs),
            _ => Err(located(self.text, start, format!("unknown collection '{name}'; use devices, devices.modules or devices.jobs"))),
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and_expr()?;
        while self.eat_keyword("OR") {
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not_expr()?;
        while self.eat_keyword("AND") {
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(self.not_expr()?));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, ParseError> {
        if self.eat_keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Token::Eq => BinaryOp::Eq,
            Token::NotEq => BinaryOp::NotEq,
            Token::Lt => BinaryOp::Lt,
            Token::Gt => BinaryOp::Gt,
            Token::LtEq => BinaryOp::LtEq,
            Token::GtEq => BinaryOp::GtEq,
            token if token.is_keyword("IN") || token.is_keyword("NIN") => {
                let negated = token.is_keyword("NIN");
                self.advance();
                self.expect(&Token::LBracket, "'[' to start the list")?;
                let list = self.list_items()?;
                return Ok(Expr::In { value: Box::new(left), list, negated });
            }
            _ => return Ok(left),
        };
        self.advance();
        let right = self.additive()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    /// Items after `[` up to and including `]`.
    fn list_items(&mut self) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.eat(&Token::RBracket) {
            return Ok(items);
        }
        loop {
            items.push(self.additive()?);
            if self.eat(&Token::RBracket) {
                return Ok(items);
            }
            self.expect(&Token::Comma, "',' or ']'")?;
        }
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Token::Plus => BinaryOp::Add,
                Token::Minus => BinaryOp::Sub,
                _ => return Ok(left),
            };
            self.advance();
            left = Expr::Binary(op, Box::new(left), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Star => BinaryOp::Mul,
                Token::Slash => BinaryOp::Div,
                Token::Percent => BinaryOp::Rem,
                _ => return Ok(left),
            };
            self.advance();
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat(&Token::Minus) {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Token::Number(number) => {
                self.advance();
                Ok(Expr::Literal(Literal::Number(number)))
            }
            Token::Str(text) => {
                self.advance();
                Ok(Expr::Literal(Literal::Str(text)))
            }
            Token::LParen => {
                self.advance();
                let inner = self.expr()?;
                self.expect(&Token::RParen, "')'")?;
                Ok(inner)
            }
            Token::LBracket => {
                self.advance();
                Ok(Expr::Array(self.list_items()?))
            }
            Token::Ident(name) => self.named(&name),
            _ => self.unexpected("a value, a property path or '('"),
        }
    }

    fn named(&mut self, name: &str) -> Result<Expr, ParseError> {
        let literal = match name.to_ascii_lowercase().as_str() {
            "true" => Some(Literal::Bool(true)),
            "false" => Some(Literal::Bool(false)),
            "null" => Some(Literal::Null),
            "undefined" => Some(Literal::Undefined),
            _ => None,
        };
        if let Some(literal) = literal {
            self.advance();
            return Ok(Expr::Literal(literal));
        }
        if *self.peek_at(1) == Token::LParen {
            if AGGREGATES.iter().any(|aggregate| aggregate.eq_ignore_ascii_case(name)) {
                return self.error(format!("the aggregate {} is only allowed in the SELECT list", name.to_ascii_uppercase()));
            }
            let Some(function) = Function::lookup(name) else {
                return self.error(format!(
                    "unknown function '{name}'; known are {}",
                    Function::ALL.iter().map(|function| function.name()).collect::<Vec<_>>().join(", ")
                ));
            };
            let name_offset = self.offset();
            self.position += 2;
            let mut args = Vec::new();
            if !self.eat(&Token::RParen) {
                loop {
                    args.push(self.expr()?);
                    if self.eat(&Token::RParen) {
                        break;
                    }
                    self.expect(&Token::Comma, "',' or ')'")?;
                }
            }
            if args.len() != function.arity() {
                let message = format!("{} takes {} argument(s), not {}", function.name(), function.arity(), args.len());
                return Err(located(self.text, name_offset, message));
            }
            return Ok(Expr::Call(function, args));
        }
        if is_reserved(name) {
            return self.error(format!("'{name}' is a keyword here; expected a value or a property path"));
        }
        Ok(Expr::Path(self.path()?))
    }

    fn path(&mut self) -> Result<Path, ParseError> {
        let mut segments = match self.advance() {
            Token::Ident(name) if !is_reserved(&name) => vec![name],
            _ => {
                self.position -= 1;
                return self.unexpected("a property path");
            }
        };
        loop {
            if self.eat(&Token::Dot) {
                if let Token::Ident(name) = self.advance() {
                    segments.push(name);
                } else {
                    self.position -= 1;
                    return self.unexpected("a property name after '.'");
                }
            } else if self.eat(&Token::LBracket) {
                match self.advance() {
                    Token::Str(key) => segments.push(key),
                    Token::Number(index) if index.fract() == 0.0 && index >= 0.0 => {
                        segments.push(format!("{index}"));
                    }
                    _ => {
                        self.position -= 1;
                        return self.unexpected("a quoted key or an index inside '[ ]'");
                    }
                }
                self.expect(&Token::RBracket, "']'")?;
            } else {
                return Ok(Path(segments));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Expr {
        Expr::Path(Path(text.split('.').map(str::to_owned).collect()))
    }

    #[test]
    fn parses_the_documented_examples() {
        for text in [
            "SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60",
            "SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired','wifi']",
            "SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)",
            "SELECT COUNT() AS numberOfDevices FROM devices",
            "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status",
            "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['device1','device2']",
            "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'myJobId'",
            "select top 10 deviceId, tags['my-key'] from devices where not (status = 'disabled' or $version > 3)",
        ] {
            let query = parse_query(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            let printed = query.to_string();
            assert_eq!(parse_query(&printed).unwrap(), query, "round trip of {text} via {printed}");
        }
    }

    #[test]
    fn precedence_is_or_and_not_comparison() {
        let query = parse_query("SELECT * FROM devices WHERE a = 1 OR NOT b = 2 AND c = 3").unwrap();
        let Some(Expr::Binary(BinaryOp::Or, left, right)) = query.filter else { panic!("OR at the top") };
        assert_eq!(*left, Expr::Binary(BinaryOp::Eq, Box::new(path("a")), Box::new(Expr::Literal(Literal::Number(1.0)))));
        let Expr::Binary(BinaryOp::And, not_b, _) = *right else { panic!("AND below OR") };
        assert!(matches!(*not_b, Expr::Not(_)));
    }

    #[test]
    fn errors_name_line_column_and_problem() {
        let cases = [
            ("SELECT * FORM devices", 1, 10, "expected FROM, found 'FORM'"),
            ("SELECT * FROM devices WHERE", 1, 28, "expected a value"),
            ("SELECT * FROM devices WHERE tags.x = 'open", 1, 38, "never closed"),
            ("SELECT * FROM widgets", 1, 15, "unknown collection 'widgets'"),
            ("SELECT * FROM devices WHERE FOO(x)", 1, 29, "unknown function 'FOO'"),
            ("SELECT * FROM devices WHERE COUNT() > 1", 1, 29, "only allowed in the SELECT list"),
            ("SELECT * FROM devices WHERE STARTSWITH(deviceId)", 1, 29, "takes 2 argument(s), not 1"),
            ("SELECT *\nFROM devices\nWHERE x = = 1", 3, 11, "expected a value"),
            ("SELECT * FROM devices WHERE x IN ('a')", 1, 34, "expected '[' to start the list"),
            ("SELECT TOP -1 * FROM devices", 1, 12, "whole number after TOP"),
            ("SELECT * FROM devices extra", 1, 23, "unexpected 'extra' after the end of the query"),
            ("SELECT COUNT(x) FROM devices", 1, 14, "COUNT takes no argument"),
        ];
        for (text, line, column, message) in cases {
            let error = parse_query(text).unwrap_err();
            assert!(error.message.contains(message), "{text}: {error}");
            assert_eq!((error.line, error.column), (line, column), "{text}: {error}");
            assert!(error.to_string().starts_with(&format!("syntax error at line {line}, column {column}: ")));
        }
    }

    #[test]
    fn condition_alone() {
        let condition = parse_condition("deviceId IN ['d1','d2'] AND tags.floor = 3").unwrap();
        assert!(matches!(condition, Expr::Binary(BinaryOp::And, _, _)));
        assert!(parse_condition("deviceId = ").is_err());
    }
}
