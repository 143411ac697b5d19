//! The `/sync` token: the position reached on every stream, as one opaque string.
//!
//! Format: `s<events>_<account data>_<receipts>_<presence>_<typing>_<to-device>_<device lists>`; parts missing at
//! the end (tokens from before a stream existed) read as 0. The leading `s<events>` part is also a
//! valid `/messages` pagination token (the rooms service reads the number before the first `_`), so a
//! `next_batch` can be handed to `/messages` as clients sometimes do. Every part but typing is a database
//! position and survives restarts; typing serials restart at 0 with the process (see [`super::typing`]).

use std::fmt;

/// The position of each stream a sync has seen up to (inclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncToken {
    /// Room events (`events.stream_ordering`).
    pub events: i64,
    /// Account data.
    pub account_data: i64,
    /// Receipts.
    pub receipts: i64,
    /// Presence.
    pub presence: i64,
    /// Typing (in-memory serial).
    pub typing: u64,
    /// To-device messages (acknowledged up to here when the token comes back as `since`).
    pub to_device: i64,
    /// Device-list changes.
    pub device_lists: i64,
}

impl SyncToken {
    /// Parses a token; `None` for anything this server did not hand out. A bare `s<events>` (a pagination
    /// token) is accepted with the other streams at 0.
    pub fn parse(token: &str) -> Option<SyncToken> {
        let rest = token.strip_prefix('s')?;
        let mut parts = rest.split('_');
        let number = |part: Option<&str>| -> Option<i64> {
            match part {
                None => Some(0),
                Some(text) => text.parse().ok().filter(|n: &i64| *n >= 0),
            }
        };
        let events = number(parts.next())?;
        let account_data = number(parts.next())?;
        let receipts = number(parts.next())?;
        let presence = number(parts.next())?;
        let typing = u64::try_from(number(parts.next())?).ok()?;
        let to_device = number(parts.next())?;
        let device_lists = number(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(SyncToken {
            events,
            account_data,
            receipts,
            presence,
            typing,
            to_device,
            device_lists,
        })
    }
}

impl fmt::Display for SyncToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "s{}_{}_{}_{}_{}_{}_{}",
            self.events,
            self.account_data,
            self.receipts,
            self.presence,
            self.typing,
            self.to_device,
            self.device_lists
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let token = SyncToken {
            events: 42,
            account_data: 7,
            receipts: 3,
            presence: 1,
            typing: 9,
            to_device: 4,
            device_lists: 5,
        };
        assert_eq!(token.to_string(), "s42_7_3_1_9_4_5");
        assert_eq!(SyncToken::parse(&token.to_string()), Some(token));
    }

    #[test]
    fn pagination_tokens_parse_as_event_positions() {
        assert_eq!(
            SyncToken::parse("s12"),
            Some(SyncToken {
                events: 12,
                ..SyncToken::default()
            })
        );
    }

    #[test]
    fn tokens_from_before_the_e2ee_streams_read_them_as_zero() {
        let token = SyncToken::parse("s42_7_3_1_9").unwrap();
        assert_eq!((token.to_device, token.device_lists), (0, 0));
        assert_eq!(token.events, 42);
    }

    #[test]
    fn foreign_or_malformed_tokens_are_refused() {
        for bad in [
            "",
            "12",
            "s",
            "s1_x",
            "s-1",
            "s1_2_3_4_5_6_7_8",
            "s1_2_3_4_5_6_-7",
            "t1_2",
        ] {
            assert_eq!(SyncToken::parse(bad), None, "{bad}");
        }
    }
}
