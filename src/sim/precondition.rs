//! `If-Match` preconditions, parsed once per request and checked by the hub's registry and twins
//! and by DPS enrollments and registration records alike.

/// An `If-Match` precondition as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any version.
    Any,
    /// This etag (quotes and any `W/` prefix removed).
    Etag(String),
}

impl Precondition {
    /// Reads the header: quoted or not, `*` or an etag, an optional `W/` prefix. An absent or
    /// empty header is no precondition at all.
    pub fn parse(header: Option<&str>) -> Option<Self> {
        let value = header?.trim();
        let value = value.strip_prefix("W/").unwrap_or(value);
        let value = unquote(value);
        if value.is_empty() {
            return None;
        }
        Some(if value == "*" { Self::Any } else { Self::Etag(value.to_owned()) })
    }

    /// True when `current` (quoted, as DPS stores its etags, or not, as the hub does) satisfies
    /// the precondition.
    pub fn matches(&self, current: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Etag(etag) => etag == unquote(current),
        }
    }

    /// As [`matches`](Self::matches) for a resource that may have no etag: only `*` accepts one
    /// without.
    pub fn matches_optional(&self, current: Option<&str>) -> bool {
        match current {
            Some(current) => self.matches(current),
            None => *self == Self::Any,
        }
    }
}

/// `"x"` → `x`; anything not wrapped in quotes is returned as it is.
fn unquote(value: &str) -> &str {
    value.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_unquoted_weak_and_star() {
        assert_eq!(Precondition::parse(Some("\"*\"")), Some(Precondition::Any));
        assert_eq!(Precondition::parse(Some(" * ")), Some(Precondition::Any));
        assert_eq!(Precondition::parse(Some("\"AAAAAAAAAAE=\"")), Some(Precondition::Etag("AAAAAAAAAAE=".to_owned())));
        assert_eq!(Precondition::parse(Some("AAAAAAAAAAE=")), Some(Precondition::Etag("AAAAAAAAAAE=".to_owned())));
        assert_eq!(Precondition::parse(Some("W/\"abc\"")), Some(Precondition::Etag("abc".to_owned())));
        assert_eq!(Precondition::parse(Some("\"\"")), None);
        assert_eq!(Precondition::parse(Some("  ")), None);
        assert_eq!(Precondition::parse(None), None);
    }

    #[test]
    fn matches_hub_and_dps_etags() {
        let hub = Precondition::parse(Some("\"AAAAAAAAAAE=\"")).unwrap();
        assert!(hub.matches("AAAAAAAAAAE="));
        assert!(!hub.matches("AAAAAAAAAAI="));
        // DPS keeps its etags quoted; the client may send them either way.
        let dps_etag = "\"00000001-0000-0300-0000-00006543a1b2\"";
        assert!(Precondition::parse(Some(dps_etag)).unwrap().matches(dps_etag));
        assert!(Precondition::parse(Some(&dps_etag[1..dps_etag.len() - 1])).unwrap().matches(dps_etag));
        assert!(!Precondition::parse(Some("\"stale\"")).unwrap().matches(dps_etag));
        assert!(Precondition::Any.matches(dps_etag));
    }

    #[test]
    fn a_resource_without_an_etag_matches_only_star() {
        assert!(Precondition::Any.matches_optional(None));
        assert!(!Precondition::Etag("a".to_owned()).matches_optional(None));
        assert!(Precondition::Etag("a".to_owned()).matches_optional(Some("\"a\"")));
    }
}
