//! Glob matching for push rules (spec appendix "Glob-style matching"): `*` matches any run of characters, `?`
//! exactly one, case-insensitively. Either against a whole value, or — for `content.body` — against any
//! substring that starts and ends at a word boundary (the value's ends, or a character outside `[A-Za-z0-9_]`).
//!
//! Matching simulates the pattern as a small NFA over the characters, so it costs O(value × pattern) even in
//! the word-boundary mode where every boundary may start a match: no backtracking blow-up on hostile input.

/// Patterns longer than this (in characters) never match: they cannot be meant, and they bound the work.
pub const MAX_PATTERN_CHARS: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    One,
    Many,
}

/// A compiled pattern (lower-cased; runs of `*` collapsed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles a glob pattern (`*`, `?` special); `None` when it is longer than [`MAX_PATTERN_CHARS`].
    pub fn new(pattern: &str) -> Option<Self> {
        Self::compile(pattern, true)
    }

    /// A pattern matching `text` literally (a display name, where `*` and `?` are ordinary characters).
    pub fn literal(text: &str) -> Option<Self> {
        Self::compile(text, false)
    }

    fn compile(pattern: &str, special: bool) -> Option<Self> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return None;
        }
        let mut tokens = Vec::new();
        for c in pattern.to_lowercase().chars() {
            let token = match c {
                '*' if special => Token::Many,
                '?' if special => Token::One,
                c => Token::Char(c),
            };
            if token == Token::Many && tokens.last() == Some(&Token::Many) {
                continue;
            }
            tokens.push(token);
        }
        Some(Self { tokens })
    }

    /// Whether the whole of `value` matches.
    pub fn matches_whole(&self, value: &str) -> bool {
        let chars: Vec<char> = value.to_lowercase().chars().collect();
        self.run(&chars, |i| i == 0, |i| i == chars.len())
    }

    /// Whether some substring of `value` that starts and ends at a word boundary matches.
    pub fn matches_words(&self, value: &str) -> bool {
        let chars: Vec<char> = value.to_lowercase().chars().collect();
        let boundary_before = |i: usize| i == 0 || !is_word_char(chars[i - 1]);
        let boundary_after = |i: usize| i == chars.len() || !is_word_char(chars[i]);
        self.run(&chars, boundary_before, boundary_after)
    }

    /// NFA simulation: state `k` = the first `k` tokens are matched. A match may start at every position where
    /// `may_start` holds and is accepted at every position where `may_end` holds.
    fn run(
        &self,
        chars: &[char],
        may_start: impl Fn(usize) -> bool,
        may_end: impl Fn(usize) -> bool,
    ) -> bool {
        let m = self.tokens.len();
        let mut states = vec![false; m + 1];
        let mut next = vec![false; m + 1];
        for position in 0..=chars.len() {
            if may_start(position) {
                states[0] = true;
            }
            self.close(&mut states);
            if states[m] && may_end(position) {
                return true;
            }
            let Some(&c) = chars.get(position) else {
                break;
            };
            next.iter_mut().for_each(|state| *state = false);
            let mut any = false;
            for k in 0..m {
                if !states[k] {
                    continue;
                }
                match self.tokens[k] {
                    Token::Many => {
                        next[k] = true;
                        any = true;
                    }
                    Token::One => {
                        next[k + 1] = true;
                        any = true;
                    }
                    Token::Char(expected) if expected == c => {
                        next[k + 1] = true;
                        any = true;
                    }
                    Token::Char(_) => {}
                }
            }
            std::mem::swap(&mut states, &mut next);
            if !any {
                states.iter_mut().for_each(|state| *state = false);
            }
        }
        false
    }

    /// Epsilon closure: `*` may match nothing.
    fn close(&self, states: &mut [bool]) {
        for k in 0..self.tokens.len() {
            if states[k] && self.tokens[k] == Token::Many {
                states[k + 1] = true;
            }
        }
    }
}

/// `[A-Za-z0-9_]` (after lower-casing, so `[a-z0-9_]` suffices; other letters are boundaries, as the spec says).
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(pattern: &str, value: &str) -> bool {
        Glob::new(pattern).unwrap().matches_whole(value)
    }

    fn words(pattern: &str, value: &str) -> bool {
        Glob::new(pattern).unwrap().matches_words(value)
    }

    #[test]
    fn the_specs_topic_examples() {
        assert!(whole("lunc?*", "Lunch plans"));
        assert!(whole("lunc?*", "LUNCH"));
        assert!(!whole("lunc?*", " lunch"));
        assert!(!whole("lunc?*", "lunc"));
    }

    #[test]
    fn the_specs_body_examples() {
        assert!(words("ex*ple", "An example event."));
        assert!(words("ex*ple", "exple"));
        assert!(words("ex*ple", "An exciting triple-whammy"));
        assert!(!words("ex*ple", "An examples event"));
        assert!(!words("cake", "cupcake"));
        assert!(words("cake", "cup cake!"));
        assert!(words("cake", "cake"));
    }

    #[test]
    fn whole_value_matching_needs_the_entire_value() {
        assert!(whole("m.notice", "m.notice"));
        assert!(!whole("m.notice", "m.notices"));
        assert!(whole("*", ""));
        assert!(whole("", ""));
        assert!(!whole("", "x"));
        assert!(whole("a*b*c", "aXXbYYc"));
        assert!(!whole("a*b*c", "aXXbYY"));
        assert!(whole("@alice:hearth.test", "@ALICE:hearth.test"));
    }

    #[test]
    fn literal_patterns_treat_star_and_question_mark_as_characters() {
        let glob = Glob::literal("Al*ce?").unwrap();
        assert!(glob.matches_words("hi Al*ce? there"));
        assert!(!glob.matches_words("hi Alice! there"));
    }

    #[test]
    fn hostile_patterns_stay_linear_and_overlong_ones_are_refused() {
        let body = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!Glob::new(&pattern).unwrap().matches_words(&body));
        assert!(Glob::new(&"a".repeat(MAX_PATTERN_CHARS + 1)).is_none());
    }

    #[test]
    fn non_ascii_letters_are_word_boundaries_and_case_folds() {
        assert!(words("ÉTÉ", "un été chaud"));
        assert!(whole("été", "ÉTÉ"));
        // `é` is not in [A-Za-z0-9_], so it separates words.
        assert!(words("t", "été"));
    }
}
