//! The service's timestamp format: ISO-8601 UTC with seven fractional digits.

use std::fmt;

use chrono::{DateTime, Datelike as _, NaiveDateTime, SecondsFormat, TimeZone as _, Timelike as _, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant as `IoT` Hub and DPS write it (`2019-12-29T00:58:49.9315265Z`).
///
/// "Never" is `0001-01-01T00:00:00Z` on the wire; [`Timestamp::NEVER`] stands for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The service's "never happened" value, `0001-01-01T00:00:00Z`.
    pub const NEVER: Self = Self(DateTime::<Utc>::MIN_UTC);

    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// True for the "never" value (and anything before year 2).
    pub fn is_never(self) -> bool {
        self.0.timestamp() <= NEVER_THRESHOLD_SECS
    }

    /// Parses the formats the service and SDKs use: with or without `Z`, with an offset,
    /// with 0–9 fractional digits.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
            return Some(Self(with_offset.with_timezone(&Utc)));
        }
        let naive_text = text.strip_suffix('Z').unwrap_or(text);
        NaiveDateTime::parse_from_str(naive_text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|naive| Self(Utc.from_utc_datetime(&naive)))
    }

    /// The wire form: seven fractional digits and `Z`, or `0001-01-01T00:00:00Z` for never.
    pub fn to_wire(self) -> String {
        self.to_string()
    }

    /// Millisecond precision, for the few fields the SDK captures show that way.
    pub fn to_wire_millis(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

const NEVER_TEXT: &str = "0001-01-01T00:00:00Z";
/// Seconds of 0002-01-01 relative to the Unix epoch; anything earlier counts as "never".
const NEVER_THRESHOLD_SECS: i64 = -62_104_060_800;

impl fmt::Display for Timestamp {
    /// The wire form (see [`Timestamp::to_wire`]), written without intermediate strings: a page
    /// of 1000 twins carries some 20 000 of these.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str(NEVER_TEXT);
        }
        // The service prints 7 fractional digits (100 ns ticks); chrono prints 3, 6 or 9.
        let time = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
            time.year(),
            time.month(),
            time.day(),
            time.hour(),
            time.minute(),
            time.second(),
            time.timestamp_subsec_nanos() / 100
        )
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not an ISO-8601 timestamp: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_service_shape() {
        let with_seven = Timestamp::parse("2019-12-29T00:58:49.9315265Z").unwrap();
        assert_eq!(with_seven.to_wire(), "2019-12-29T00:58:49.9315265Z");
        let without_zone = Timestamp::parse("2016-09-29T18:18:52.7418462").unwrap();
        assert_eq!(without_zone.to_wire(), "2016-09-29T18:18:52.7418462Z");
        let with_offset = Timestamp::parse("2020-01-08T22:51:16+00:00").unwrap();
        assert_eq!(with_offset.to_wire(), "2020-01-08T22:51:16.0000000Z");
        let millis = Timestamp::parse("2030-01-01T00:00:00.000Z").unwrap();
        assert_eq!(millis.to_wire_millis(), "2030-01-01T00:00:00.000Z");
    }

    #[test]
    fn never_round_trips_both_forms() {
        for text in ["0001-01-01T00:00:00", "0001-01-01T00:00:00Z"] {
            let parsed = Timestamp::parse(text).unwrap();
            assert!(parsed.is_never(), "{text}");
            assert_eq!(parsed.to_wire(), "0001-01-01T00:00:00Z");
        }
        assert!(Timestamp::NEVER.is_never());
        assert!(!Timestamp::now().is_never());
    }

    #[test]
    fn rejects_garbage_with_a_message() {
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("yesterday"));
    }
}
