//! What the query bar's text means: a WHERE clause (the common case) or a full SELECT, turned
//! into the query to page through and the `SELECT COUNT()` that gives the total.

/// The queries behind one run of the query bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryPlan {
    /// The text as typed.
    pub input: String,
    /// The query sent for rows.
    pub query: String,
    /// The query sent for the total, when the rows are twins.
    pub count_query: Option<String>,
    /// True when the rows are full twins (the device table); false for projections and
    /// aggregates (shown as a plain result table).
    pub returns_twins: bool,
    /// Added to a column of `query` to get the column in `input` (characters; the query may
    /// carry a prefix the user did not type, or the user may have typed a WHERE we dropped).
    pub column_offset: isize,
}

const BASE: &str = "SELECT * FROM devices";

impl QueryPlan {
    /// Reads the query bar. Empty means every device; text not starting with SELECT is a
    /// condition (an optional leading WHERE is accepted).
    pub fn from_input(input: &str) -> Self {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Self {
                input: input.to_owned(),
                query: BASE.to_owned(),
                count_query: Some("SELECT COUNT() AS total FROM devices".to_owned()),
                returns_twins: true,
                column_offset: 0,
            };
        }
        if starts_with_word(trimmed, "SELECT") {
            let condition = select_star_condition(trimmed);
            let returns_twins = condition.is_some();
            let count_query = condition.map(|condition| match condition {
                "" => "SELECT COUNT() AS total FROM devices".to_owned(),
                condition => format!("SELECT COUNT() AS total FROM devices WHERE {condition}"),
            });
            return Self { input: input.to_owned(), query: trimmed.to_owned(), count_query, returns_twins, column_offset: 0 };
        }
        let condition = if starts_with_word(trimmed, "WHERE") { trimmed[5..].trim_start() } else { trimmed };
        let prefix = format!("{BASE} WHERE ");
        let condition_start =
            input.chars().count() - input.trim_start().chars().count() + (trimmed.chars().count() - condition.chars().count());
        Self {
            input: input.to_owned(),
            query: format!("{prefix}{condition}"),
            count_query: Some(format!("SELECT COUNT() AS total FROM devices WHERE {condition}")),
            returns_twins: true,
            column_offset: to_isize(condition_start) - to_isize(prefix.chars().count()),
        }
    }

    /// Turns "syntax error at line 1, column N: …" from the service into a 1-based column in
    /// the user's text, when the error points into it.
    pub fn input_column(&self, service_message: &str) -> Option<usize> {
        let (_, after) = service_message.split_once("line 1, column ")?;
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let column: isize = digits.parse().ok()?;
        let in_input = column + self.column_offset;
        let limit = to_isize(self.input.chars().count()) + 1;
        usize::try_from(in_input).ok().filter(|column| (1..=limit).contains(&to_isize(*column)))
    }
}

fn to_isize(count: usize) -> isize {
    isize::try_from(count).unwrap_or(isize::MAX)
}

fn starts_with_word(text: &str, word: &str) -> bool {
    text.len() >= word.len()
        && text[..word.len()].eq_ignore_ascii_case(word)
        && text[word.len()..].chars().next().is_none_or(char::is_whitespace)
}

/// For `SELECT [TOP n] * FROM devices [WHERE cond]` (no GROUP BY), the condition ("" without
/// WHERE); `None` for anything else (projections and aggregates are not twins).
fn select_star_condition(query: &str) -> Option<&str> {
    let mut words: Vec<&str> = query.split_whitespace().take(6).collect();
    if words.len() >= 3 && words[1].eq_ignore_ascii_case("TOP") && words[2].parse::<u64>().is_ok() {
        words.drain(1..3);
    }
    let expected = ["SELECT", "*", "FROM", "devices"];
    if words.len() < expected.len() || !words.iter().zip(expected).all(|(word, want)| word.eq_ignore_ascii_case(want)) {
        return None;
    }
    let after_from = query.to_ascii_lowercase().find("devices")? + "devices".len();
    let rest = query[after_from..].trim();
    if rest.is_empty() {
        return Some("");
    }
    if !starts_with_word(rest, "WHERE") || rest.to_ascii_uppercase().contains("GROUP BY") {
        return None;
    }
    Some(rest[5..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_all_devices() {
        let plan = QueryPlan::from_input("  ");
        assert_eq!(plan.query, "SELECT * FROM devices");
        assert_eq!(plan.count_query.as_deref(), Some("SELECT COUNT() AS total FROM devices"));
        assert!(plan.returns_twins);
    }

    #[test]
    fn a_condition_becomes_a_where_clause() {
        for input in ["tags.building = 43", "WHERE tags.building = 43", "where  tags.building = 43"] {
            let plan = QueryPlan::from_input(input);
            assert_eq!(plan.query, "SELECT * FROM devices WHERE tags.building = 43", "{input}");
            assert_eq!(plan.count_query.as_deref(), Some("SELECT COUNT() AS total FROM devices WHERE tags.building = 43"));
        }
    }

    #[test]
    fn full_selects_are_kept() {
        let star = QueryPlan::from_input("SELECT * FROM devices WHERE status = 'disabled'");
        assert!(star.returns_twins);
        assert_eq!(star.count_query.as_deref(), Some("SELECT COUNT() AS total FROM devices WHERE status = 'disabled'"));
        let grouped = QueryPlan::from_input("SELECT tags.building, COUNT() AS n FROM devices GROUP BY tags.building");
        assert!(!grouped.returns_twins);
        assert_eq!(grouped.count_query, None);
        let top = QueryPlan::from_input("SELECT TOP 5 * FROM devices WHERE tags.floor = 3");
        assert!(top.returns_twins, "TOP still returns twins");
        assert_eq!(top.count_query.as_deref(), Some("SELECT COUNT() AS total FROM devices WHERE tags.floor = 3"));
        assert!(!QueryPlan::from_input("SELECT deviceId FROM devices").returns_twins);
        assert!(QueryPlan::from_input("select * from devices").returns_twins);
        let selection = QueryPlan::from_input("SELECTED = 1");
        assert_eq!(selection.query, "SELECT * FROM devices WHERE SELECTED = 1", "a condition on a field named like a keyword");
    }

    #[test]
    fn error_columns_point_into_the_typed_text() {
        let plan = QueryPlan::from_input("tags.building = = 43");
        // The service counts from the start of "SELECT * FROM devices WHERE tags.building = = 43".
        let message = "syntax error at line 1, column 45: expected a value";
        assert_eq!(plan.input_column(message), Some(17));
        let accented = QueryPlan::from_input("tags.café = = 43");
        assert_eq!(accented.input_column("syntax error at line 1, column 41: x"), Some(13), "columns count characters");
        let with_where = QueryPlan::from_input("  WHERE tags.building = = 43");
        assert_eq!(with_where.input_column(message), Some(25));
        let full = QueryPlan::from_input("SELECT * FORM devices");
        assert_eq!(full.input_column("syntax error at line 1, column 10: expected FROM"), Some(10));
        assert_eq!(plan.input_column("no position here"), None);
        assert_eq!(plan.input_column("syntax error at line 1, column 3: inside the prefix"), None);
    }
}
