//! The `api-version` query parameter every service request carries, and which values an API
//! accepts.

use super::front_error::FrontError;

/// Which `api-version` values an API accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersions {
    /// The inclusive range of `YYYY-MM-DD` dates accepted (a `-preview` suffix is allowed); `None`
    /// accepts any non-empty value, for an API that reads the version itself (DPS picks a
    /// registration substatus by it).
    pub dates: Option<(&'static str, &'static str)>,
    /// A version that works, named in the error messages.
    pub example: &'static str,
}

impl ApiVersions {
    /// The version sent, when it is one this API accepts.
    pub fn check(&self, given: Option<&str>) -> Result<String, FrontError> {
        let example = self.example;
        let Some(version) = given.filter(|version| !version.is_empty()) else {
            return Err(FrontError::MissingApiVersion { example });
        };
        let Some((earliest, latest)) = self.dates else {
            return Ok(version.to_owned());
        };
        let date = version.strip_suffix("-preview").unwrap_or(version);
        // The format is checked first, so comparing the text compares the dates.
        let valid = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && (earliest..=latest).contains(&date);
        if valid { Ok(version.to_owned()) } else { Err(FrontError::UnsupportedApiVersion { version: version.to_owned(), example }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATED: ApiVersions = ApiVersions { dates: Some(("2016-02-03", "2024-12-31")), example: "2021-04-12" };
    const ANY: ApiVersions = ApiVersions { dates: None, example: "2021-10-01" };

    #[test]
    fn dated_versions_in_range_with_or_without_preview() {
        assert_eq!(DATED.check(Some("2021-04-12")).unwrap(), "2021-04-12");
        assert_eq!(DATED.check(Some("2018-08-30-preview")).unwrap(), "2018-08-30-preview");
        assert_eq!(DATED.check(Some("2016-02-03")).unwrap(), "2016-02-03");
        let future = DATED.check(Some("2099-01-01")).unwrap_err();
        assert_eq!(future, FrontError::UnsupportedApiVersion { version: "2099-01-01".to_owned(), example: "2021-04-12" });
        assert_eq!(future.to_string(), "api-version '2099-01-01' is not supported; use 2021-04-12");
        assert!(DATED.check(Some("latest")).is_err());
        assert!(DATED.check(Some("2021-13-01")).is_err(), "not a date");
    }

    #[test]
    fn a_missing_version_names_an_example() {
        for rule in [DATED, ANY] {
            let error = rule.check(None).unwrap_err();
            assert_eq!(error, FrontError::MissingApiVersion { example: rule.example });
            assert!(error.to_string().contains(&format!("required (e.g. api-version={})", rule.example)), "{error}");
            assert_eq!(rule.check(Some("")).unwrap_err(), error);
        }
    }

    #[test]
    fn an_open_rule_passes_the_version_through() {
        assert_eq!(ANY.check(Some("2019-03-31")).unwrap(), "2019-03-31");
        assert_eq!(ANY.check(Some("anything")).unwrap(), "anything");
    }
}
