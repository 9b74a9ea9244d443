//! Parsing command arguments with Redis's exact rules and error texts.

use std::time::Duration;

use bytes::Bytes;

use crate::error::CmdError;

/// Parses a signed 64-bit integer as Redis's `string2ll` does: optional `-`, no `+`, no spaces,
/// no leading zeros (except "0" itself).
pub fn parse_int(arg: &[u8]) -> Option<i64> {
    match arg {
        [] => None,
        [b'0'] => Some(0),
        _ => {
            let (neg, digits) = match arg[0] {
                b'-' => (true, &arg[1..]),
                _ => (false, arg),
            };
            if digits.is_empty() || digits.len() > 19 || !(b'1'..=b'9').contains(&digits[0]) {
                return None;
            }
            let mut v: u64 = 0;
            for &d in digits {
                if !d.is_ascii_digit() {
                    return None;
                }
                v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
            }
            if neg {
                if v > i64::MAX as u64 + 1 {
                    None
                } else {
                    Some((v as i64).wrapping_neg())
                }
            } else {
                i64::try_from(v).ok()
            }
        }
    }
}

/// An integer argument, or `ERR value is not an integer or out of range`.
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_int(arg).ok_or(CmdError::NotInteger)
}

/// Parses a float as Redis does (`strtod` over the whole argument; no spaces, no NaN).
pub fn parse_float(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() || arg.last().is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    let text = std::str::from_utf8(arg).ok()?;
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A float argument, or `ERR value is not a valid float`.
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_float(arg).ok_or(CmdError::NotFloat)
}

/// A blocking command's timeout in seconds (fractions allowed); 0 means forever.
///
/// As Redis 7.0's `getTimeoutFromObjectOrReply`: the seconds become milliseconds cast to a long
/// long, truncating (so `-0.0005` is 0: wait forever), and a value beyond its range (`inf`,
/// `1e18`) casts to LLONG_MIN on x86: "timeout is negative". A timeout in range but too far for a
/// deadline (Redis's deadline then overflows and never fires) waits forever here too.
pub fn timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = parse_float(arg).ok_or(CmdError::fixed("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).trunc();
    if !(0.0..9_223_372_036_854_775_808.0).contains(&ms) {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    /// About a thousand years: any farther deadline is never reached.
    const FOREVER_MS: f64 = 1000.0 * 365.0 * 86_400_000.0;
    if ms == 0.0 || ms > FOREVER_MS {
        return Ok(None);
    }
    Ok(Some(Duration::from_millis(ms as u64)))
}

/// True if `arg` equals `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// An integer's decimal form as `Bytes`.
pub fn int_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// An argument as text for error messages.
pub fn lossy(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_like_string2ll() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b"9223372036854775808"[..], b"01", b"+1", b" 1", b"1 ", b"-0", b"", b"-", b"1.0"] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_and_timeouts() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(timeout(b"0").unwrap(), None);
        assert_eq!(timeout(b"0.5").unwrap(), Some(Duration::from_millis(500)));
        assert!(timeout(b"-1").is_err());
        assert!(timeout(b"x").is_err());
        // Redis 7.0.15's replies: casts of out-of-range milliseconds are negative, truncation
        // toward zero waits forever, a far deadline waits forever.
        let negative = Err(CmdError::fixed("ERR timeout is negative"));
        for arg in [&b"inf"[..], b"-inf", b"1e18", b"1e300", b"9223372036854775807", b"9223372036854776"] {
            assert_eq!(timeout(arg), negative, "{}", String::from_utf8_lossy(arg));
        }
        assert_eq!(timeout(b"-0.0001").unwrap(), None);
        assert_eq!(timeout(b"9223372036854770").unwrap(), None);
        assert_eq!(timeout(b"0.0001").unwrap(), None);
    }
}
