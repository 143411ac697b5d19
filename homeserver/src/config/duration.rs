//! Human-readable durations in the config file: `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"7d"`, `"2w"`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a whole number followed by one unit (`ms`, `s`, `m`, `h`, `d`, `w`).
///
/// One number and one unit keeps values unambiguous and round-trippable: it is printed back exactly in the
/// largest unit up to days that divides it (`"2w"` prints as `"14d"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(Duration);

/// Units from largest to smallest, with their length in milliseconds.
const UNITS: &[(&str, u64)] = &[
    ("w", 7 * 24 * 60 * 60 * 1000),
    ("d", 24 * 60 * 60 * 1000),
    ("h", 60 * 60 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl ConfigDuration {
    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// The value as a [`Duration`].
    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a duration: write a whole number and a unit, e.g. \"500ms\", \"10s\", \"5m\", \"1h\", \"7d\" or \"2w\""
)]
pub struct DurationParseError(String);

impl FromStr for ConfigDuration {
    type Err = DurationParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DurationParseError(text.to_owned());
        let trimmed = text.trim();
        let digits_end = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(error)?;
        let (number, unit) = trimmed.split_at(digits_end);
        let number: u64 = number.parse().map_err(|_| error())?;
        let unit_ms = UNITS
            .iter()
            .find(|(name, _)| *name == unit.trim())
            .map(|(_, ms)| *ms)
            .ok_or_else(error)?;
        let millis = number.checked_mul(unit_ms).ok_or_else(error)?;
        Ok(Self(Duration::from_millis(millis)))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return f.write_str("0s");
        }
        let (name, unit_ms) = UNITS
            .iter()
            .filter(|(name, _)| *name != "w")
            .find(|(_, unit_ms)| millis % unit_ms == 0)
            .copied()
            .unwrap_or(("ms", 1));
        write!(f, "{}{name}", millis / unit_ms)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("10s", Duration::from_secs(10)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("7d", Duration::from_secs(7 * 86400)),
            ("2w", Duration::from_secs(14 * 86400)),
            (" 3 s ", Duration::from_secs(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<ConfigDuration>().unwrap().as_duration(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_missing_unit_unknown_unit_fractions_and_overflow() {
        for text in [
            "",
            "10",
            "s",
            "10y",
            "1.5h",
            "-1s",
            "99999999999999999999d",
            "7 days",
        ] {
            assert!(text.parse::<ConfigDuration>().is_err(), "{text}");
        }
    }

    #[test]
    fn error_message_shows_the_expected_form() {
        let message = "10".parse::<ConfigDuration>().unwrap_err().to_string();
        assert!(
            message.contains("`10`") && message.contains("\"7d\""),
            "{message}"
        );
    }

    #[test]
    fn prints_in_the_largest_exact_unit_and_round_trips() {
        for (text, printed) in [
            ("7d", "7d"),
            ("2w", "14d"),
            ("168h", "7d"),
            ("90s", "90s"),
            ("1500ms", "1500ms"),
            ("0s", "0s"),
        ] {
            let value: ConfigDuration = text.parse().unwrap();
            assert_eq!(value.to_string(), printed);
            assert_eq!(printed.parse::<ConfigDuration>().unwrap(), value);
        }
    }
}
