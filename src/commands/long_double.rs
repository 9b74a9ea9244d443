//! Just enough of the x87 80-bit `long double` to reproduce INCRBYFLOAT and HINCRBYFLOAT bit for bit: `strtold`
//! (decimal, hex and `inf` forms, correctly rounded), addition with round-half-even, and
//! `%.17Lf`. Values are exact big-integer computations rounded to a 64-bit mantissa.

use std::cmp::Ordering;

/// A finite value `mant * 2^exp` (a 64-bit mantissa, as x87 has), or an infinity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ld {
    Finite { neg: bool, mant: u64, exp: i32 },
    Inf,
}

/// Positive zero.
pub const ZERO: Ld = Ld::Finite { neg: false, mant: 0, exp: 0 };

/// The smallest exponent (of the subnormals' last mantissa bit) and the overflow bound.
const EXP_MIN: i64 = -16382 - 63;
const MAX_BITS: i64 = 16384;

/// Redis refuses longer inputs (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

/// An unsigned big integer, little-endian 32-bit limbs.
#[derive(Clone, Debug, Default)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        self.0.last().map_or(0, |top| (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64))
    }

    fn bit(&self, i: u64) -> bool {
        self.0.get((i / 32) as usize).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// True if any bit below `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let (limbs, rest) = ((i / 32) as usize, i % 32);
        self.0.iter().take(limbs).any(|&l| l != 0)
            || (rest > 0 && self.0.get(limbs).is_some_and(|&l| l & ((1u32 << rest) - 1) != 0))
    }

    /// `self * m + a`.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = a as u64;
        for l in self.0.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n > 0 {
            let step = n.min(9);
            self.mul_add(10u32.pow(step as u32), 0);
            n -= step;
        }
    }

    /// Divides by a small number in place, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            out.push(if bits == 0 { l } else { (l << bits) | carry });
            carry = if bits == 0 { 0 } else { l >> (32 - bits) };
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// The 64 bits starting at bit `from`.
    fn u64_at(&self, from: u64) -> u64 {
        (0..64).filter(|&i| self.bit(from + i)).fold(0u64, |acc, i| acc | 1 << i)
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v = *self.0.get(i).unwrap_or(&0) as u64 + *other.0.get(i).unwrap_or(&0) as u64 + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `self - other`; `self` must not be smaller.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut v = l as i64 - *other.0.get(i).unwrap_or(&0) as i64 - borrow;
            borrow = (v < 0) as i64;
            if v < 0 {
                v += 1 << 32;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `floor(self / d)` when the quotient is known to fit in 128 bits, and whether there is
    /// a remainder.
    fn div_small_quotient(&self, d: &Big) -> (u128, bool) {
        let mut rem = self.clone();
        let mut q = 0u128;
        let top = (self.bits() + 1).saturating_sub(d.bits()).min(127);
        for k in (0..=top).rev() {
            let shifted = d.shl(k);
            if rem.cmp(&shifted) != Ordering::Less {
                rem = rem.sub(&shifted);
                q |= 1 << k;
            }
        }
        (q, !rem.is_zero())
    }
}

/// Rounds `n * 2^scale` (plus a sticky bit for lost lower digits) to a long double, ties to
/// even, with subnormals and overflow to infinity.
fn round(neg: bool, n: &Big, scale: i64, sticky: bool) -> Ld {
    let bits = n.bits() as i64;
    if bits == 0 {
        return Ld::Finite { neg, mant: 0, exp: 0 };
    }
    let exp = (scale + bits - 64).max(EXP_MIN);
    let shift = exp - scale;
    let mut exp = exp;
    let mant = if shift <= 0 {
        n.u64_at(0) << (-shift)
    } else {
        let shift = shift as u64;
        let mut m = n.u64_at(shift);
        let half = n.bit(shift - 1);
        let rest = sticky || n.any_below(shift - 1);
        if half && (rest || m & 1 == 1) {
            m = m.wrapping_add(1);
            if m == 0 {
                exp += 1;
                m = 1 << 63;
            }
        }
        m
    };
    if exp + (64 - mant.leading_zeros() as i64) > MAX_BITS {
        return Ld::Inf;
    }
    Ld::Finite { neg, mant, exp: exp as i32 }
}

/// Parses as Redis's `string2ld` (`strtold` over the whole text, no leading space, no NaN,
/// no overflow or underflow to zero).
pub fn parse(text: &[u8]) -> Option<Ld> {
    if text.is_empty() || text.len() >= MAX_CHARS || text[0].is_ascii_whitespace() {
        return None;
    }
    let (neg, body) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Ld::Inf);
    }
    let hex = body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
    let (digits, exp_char, radix) = if hex { (&body[2..], b'p', 16) } else { (body, b'e', 10) };
    // Mantissa digits with an optional point, then an optional exponent.
    let mut n = Big::default();
    let (mut count, mut frac, mut seen_point, mut i) = (0usize, 0i64, false, 0);
    while i < digits.len() {
        let c = digits[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(radix) {
            n.mul_add(radix, d);
            count += 1;
            frac += seen_point as i64;
        } else {
            break;
        }
        i += 1;
    }
    if count == 0 {
        return None;
    }
    let mut exp = 0i64;
    if i < digits.len() {
        let rest = &digits[i + 1..];
        let (eneg, edigits) = match rest.first() {
            Some(b'-') => (true, &rest[1..]),
            Some(b'+') => (false, &rest[1..]),
            _ => (false, rest),
        };
        if (digits[i] | 0x20) != exp_char || edigits.is_empty() || !edigits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        exp = edigits.iter().fold(0i64, |acc, &d| (acc * 10 + (d - b'0') as i64).min(1 << 40));
        if eneg {
            exp = -exp;
        }
    }
    if n.is_zero() {
        return Some(Ld::Finite { neg, mant: 0, exp: 0 });
    }
    let value = if hex {
        let scale = exp - 4 * frac;
        if scale > MAX_BITS || scale < EXP_MIN - 4 * MAX_CHARS as i64 {
            return None;
        }
        round(neg, &n, scale, false)
    } else {
        decimal_to_ld(neg, n, exp - frac)?
    };
    match value {
        Ld::Finite { mant: 0, .. } | Ld::Inf => None,
        v => Some(v),
    }
}

/// Correctly rounds `n * 10^exp10`.
fn decimal_to_ld(neg: bool, n: Big, exp10: i64) -> Option<Ld> {
    // Past these bounds the result overflows or underflows whatever the digits are.
    if exp10 > 5000 || exp10 < -(5000 + MAX_CHARS as i64) {
        return None;
    }
    if exp10 >= 0 {
        let mut n = n;
        n.mul_pow10(exp10 as u64);
        return Some(round(neg, &n, 0, false));
    }
    let mut p = Big::from_u64(1);
    p.mul_pow10((-exp10) as u64);
    // Scale so that the quotient has at least 66 significant bits, then round it.
    let k = (p.bits() as i64 - n.bits() as i64 + 66).max(0) as u64;
    let (q, inexact) = n.shl(k).div_small_quotient(&p);
    let q = Big(vec![q as u32, (q >> 32) as u32, (q >> 64) as u32, (q >> 96) as u32]);
    let mut q = q;
    q.trim();
    Some(round(neg, &q, -(k as i64), inexact))
}

/// `a + b`, or `None` for infinities (Redis: "increment would produce NaN or Infinity").
pub fn add(a: Ld, b: Ld) -> Option<Ld> {
    let (Ld::Finite { neg: na, mant: ma, exp: ea }, Ld::Finite { neg: nb, mant: mb, exp: eb }) = (a, b) else {
        return None;
    };
    let base = match (ma, mb) {
        (0, _) => eb,
        (_, 0) => ea,
        _ => ea.min(eb),
    } as i64;
    let big = |m: u64, e: i32| if m == 0 { Big::default() } else { Big::from_u64(m).shl((e as i64 - base) as u64) };
    let (x, y) = (big(ma, ea), big(mb, eb));
    let (neg, sum) = if na == nb {
        (na, x.add(&y))
    } else {
        match x.cmp(&y) {
            Ordering::Less => (nb, y.sub(&x)),
            _ => (na, x.sub(&y)),
        }
    };
    match round(neg, &sum, base, false) {
        Ld::Inf => None,
        v => Some(v),
    }
}

/// `%.17Lf` with trailing zeros (and a bare point) trimmed, and `-0` written `0`: Redis's
/// `ld2string(..., LD_STR_HUMAN)`.
pub fn format_human(v: Ld) -> String {
    let Ld::Finite { neg, mant, exp } = v else {
        return "inf".into();
    };
    let mut n = Big::from_u64(mant);
    n.mul_pow10(17);
    let scaled = if exp >= 0 {
        n.shl(exp as u64)
    } else {
        let shift = (-exp) as u64;
        let mut q =
            Big((0..n.bits().saturating_sub(shift).div_ceil(32)).map(|i| n.u64_at(shift + i * 32) as u32).collect());
        q.trim();
        let half = n.bit(shift - 1);
        if half && (n.any_below(shift - 1) || q.bit(0)) {
            q = q.add(&Big::from_u64(1));
        }
        q
    };
    let mut digits = Vec::new();
    let mut s = scaled;
    while !s.is_zero() {
        let chunk = s.div_small(1_000_000_000);
        let text = if s.is_zero() { chunk.to_string() } else { format!("{chunk:09}") };
        digits.push(text);
    }
    let mut text: String = digits.into_iter().rev().collect();
    if text.len() < 18 {
        text = format!("{text:0>18}");
    }
    let (int_part, frac_part) = text.split_at(text.len() - 17);
    let frac_part = frac_part.trim_end_matches('0');
    let mut out = String::with_capacity(text.len() + 2);
    if neg && !(int_part == "0" && frac_part.is_empty()) {
        out.push('-');
    }
    out.push_str(int_part);
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(frac_part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        format_human(add(parse(a.as_bytes()).unwrap(), parse(b.as_bytes()).unwrap()).unwrap())
    }

    #[test]
    fn matches_redis_long_double_arithmetic() {
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("0", "3.0e3"), "3000");
        assert_eq!(sum("10000000000", "0.1"), "10000000000.09999999962747097");
        assert_eq!(sum("0", "1e30"), "1000000000000000000024696061952");
        assert_eq!(sum("0x10", "1.5e-20"), "16");
        assert_eq!(sum("-1.5", "1.5"), "0");
        assert_eq!(sum("-1e-20", "0"), "0");
        assert_eq!(sum("5", "-7.25"), "-2.25");
        assert!(parse(b"nan").is_none());
        assert!(parse(b" 1").is_none());
        assert!(parse(b"1e").is_none());
        assert!(parse(b"1e99999").is_none());
        assert!(parse(b"1e-99999").is_none());
        assert!(add(parse(b"inf").unwrap(), ZERO).is_none());
    }
}
