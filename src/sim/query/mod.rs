//! The `IoT` Hub query language: lexer, parser, evaluator and the paged executor over the
//! device registry.

pub mod ast;
mod device_row;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod run;

#[cfg(test)]
mod tests;

pub use parser::{ParseError, parse_condition, parse_query};
pub use run::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageItems, QueryPageResult, run_query, run_query_with_jobs};
