//! The query string of a request, percent-decoded once.

use percent_encoding::percent_decode_str;

/// Query parameters in the order sent, names and values percent-decoded (`+` is a space).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryString(Vec<(String, String)>);

impl QueryString {
    /// Splits `raw` (the part after `?`, if any) into parameters; a name without `=` has an
    /// empty value.
    pub fn parse(raw: Option<&str>) -> Self {
        let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        Self(pairs)
    }

    /// The first value of `name`, which matches case-insensitively as the service's does.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_in_any_order() {
        let query = QueryString::parse(Some("jobType=scheduleDeviceMethod&api-version=2021-04-12&q=a%20b+c&flag"));
        assert_eq!(query.get("api-version"), Some("2021-04-12"));
        assert_eq!(query.get("q"), Some("a b c"));
        assert_eq!(query.get("jobType"), Some("scheduleDeviceMethod"));
        assert_eq!(query.get("flag"), Some(""));
        assert_eq!(query.get("top"), None);
    }

    #[test]
    fn names_match_case_insensitively_and_the_first_wins() {
        let query = QueryString::parse(Some("API-Version=2021-10-01&api-version=2019-03-31"));
        assert_eq!(query.get("api-version"), Some("2021-10-01"));
        assert_eq!(QueryString::parse(None), QueryString::default());
        assert_eq!(QueryString::parse(Some("&&")).get(""), None);
    }
}
