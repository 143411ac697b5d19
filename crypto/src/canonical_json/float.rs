//! Python-compatible float printing for the lenient (room v1–v5) path.
//!
//! Synapse signed old-room events with Python's `json` module, which prints a float with `repr(float)`:
//! the shortest digit string that round-trips, in fixed notation when the decimal exponent is in
//! [-4, 16) and as `d.ddde+XX` / `d.ddde-XX` (at least two exponent digits) otherwise. To verify such
//! signatures Hearth must print the same bytes. Rust's `{:e}` formatting already yields the shortest
//! round-trip digits; this module only re-lays them out.

use std::fmt::Write as _;

/// A fixed-size stack buffer so that printing a float allocates nothing.
struct StackBuf {
    bytes: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Append `repr(value)` as Python 3 prints it. The caller guarantees `value` is finite.
pub(super) fn write_python_repr(out: &mut String, value: f64) {
    let mut buf = StackBuf {
        bytes: [0; 64],
        len: 0,
    };
    // `{:e}` of a finite f64 is at most ~25 bytes ("-2.2250738585072014e-308"), so this cannot fail;
    // fall back to Rust's own formatting rather than panic if it somehow did.
    if write!(buf, "{value:e}").is_err() {
        let _ = write!(out, "{value:e}");
        return;
    }
    let shortest = Decomposed::from_exp_format(&buf.bytes[..buf.len]);

    // Rust's shortest digits are not always the ones Python picks: when several digit strings of the
    // shortest length round-trip, Python (David Gay's dtoa, mode 0) takes the one nearest the exact
    // binary value, ties to even (223480944608620.625 prints as ...620.62, Rust's `{:e}` gives ...63).
    // Rust's fixed-precision formatting is correctly rounded with ties to even, so format again with
    // exactly that many digits and keep the result if it still round-trips.
    let mut nearest = StackBuf {
        bytes: [0; 64],
        len: 0,
    };
    let precision = shortest.len.saturating_sub(1);
    let chosen = if write!(nearest, "{value:.precision$e}").is_ok()
        && std::str::from_utf8(&nearest.bytes[..nearest.len])
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .is_some_and(|parsed| parsed == value)
    {
        Decomposed::from_exp_format(&nearest.bytes[..nearest.len])
    } else {
        shortest
    };

    if chosen.negative {
        out.push('-');
    }
    let digits = &chosen.digits[..chosen.len];
    if (-4..16).contains(&chosen.exponent) {
        write_fixed(out, digits, chosen.exponent + 1);
    } else {
        write_scientific(out, digits, chosen.exponent);
    }
}

/// A float printed as `[-]d.ddd e x`, split into sign, significant digits (no point) and exponent.
struct Decomposed {
    negative: bool,
    digits: [u8; 32],
    len: usize,
    exponent: i32,
}

impl Decomposed {
    /// Split the output of Rust's `{:e}` / `{:.Ne}` formatting.
    fn from_exp_format(text: &[u8]) -> Self {
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let e_pos = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let (mantissa, exponent_part) = text.split_at(e_pos);
        let exponent = exponent_part
            .get(1..)
            .and_then(|e| std::str::from_utf8(e).ok())
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        let mut digits = [0u8; 32];
        let mut len = 0;
        for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
            if let Some(slot) = digits.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
        Self {
            negative,
            digits,
            len,
            exponent,
        }
    }
}

/// Push ASCII digit bytes (always valid UTF-8) onto `out`.
fn push_digits(out: &mut String, digits: &[u8]) {
    for &d in digits {
        out.push(char::from(d));
    }
}

fn push_zeros(out: &mut String, count: i32) {
    for _ in 0..count {
        out.push('0');
    }
}

/// Fixed notation with the decimal point `decimal_point` digits into `digits`.
fn write_fixed(out: &mut String, digits: &[u8], decimal_point: i32) {
    let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if decimal_point <= 0 {
        out.push_str("0.");
        push_zeros(out, -decimal_point);
        push_digits(out, digits);
    } else if decimal_point < len {
        let split = usize::try_from(decimal_point).unwrap_or(0);
        let (int_part, frac_part) = digits.split_at(split);
        push_digits(out, int_part);
        out.push('.');
        push_digits(out, frac_part);
    } else {
        push_digits(out, digits);
        push_zeros(out, decimal_point - len);
        out.push_str(".0");
    }
}

fn write_scientific(out: &mut String, digits: &[u8], exponent: i32) {
    if let Some((first, rest)) = digits.split_first() {
        out.push(char::from(*first));
        if !rest.is_empty() {
            out.push('.');
            push_digits(out, rest);
        }
    }
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exponent.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(value: f64) -> String {
        let mut out = String::new();
        write_python_repr(&mut out, value);
        out
    }

    #[test]
    fn prints_like_python_repr_in_fixed_range() {
        assert_eq!(repr(2.5), "2.5");
        assert_eq!(repr(0.1), "0.1");
        assert_eq!(repr(0.0001), "0.0001");
        assert_eq!(repr(1e15), "1000000000000000.0");
        assert_eq!(repr(9007199254740992.0), "9007199254740992.0");
        assert_eq!(repr(-123.456), "-123.456");
        assert_eq!(repr(-0.0), "-0.0");
        assert_eq!(repr(1.0 / 3.0), "0.3333333333333333");
    }

    #[test]
    fn prints_like_python_repr_in_scientific_range() {
        assert_eq!(repr(1e-5), "1e-05");
        assert_eq!(repr(1.5e-7), "1.5e-07");
        assert_eq!(repr(1e16), "1e+16");
        assert_eq!(repr(1e100), "1e+100");
        assert_eq!(repr(123456789012345680000.0), "1.2345678901234568e+20");
        assert_eq!(repr(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(repr(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        assert_eq!(repr(5e-324), "5e-324");
        assert_eq!(repr(-2.5e-300), "-2.5e-300");
    }

    #[test]
    fn picks_the_nearest_shortest_digits_with_ties_to_even_like_python() {
        // Exactly 223480944608620.625: .62 and .63 both round-trip; Python picks the even .62.
        assert_eq!(repr(223480944608620.62), "223480944608620.62");
        assert_eq!(repr(0.3), "0.3");
        assert_eq!(repr(5e-324), "5e-324");
    }
}
