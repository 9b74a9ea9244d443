//! Glob-style pattern matching with Redis's rules, shared by every command that takes a pattern:
//! KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE and PUBSUB CHANNELS, CONFIG GET, COMMAND LIST
//! FILTERBY PATTERN.
//!
//! `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal x. The
//! corner cases are Redis 7.0's `stringmatchlen` (util.c), byte for byte: an unterminated class
//! ends at the pattern's end, `[a-]` is the range from `a` to `]`, range bounds compare as C's
//! signed `char`, a `\` inside a class compares exactly even with `nocase`, and `*` never matches
//! the empty string that is left once the text is used up unless it ends the pattern (callers
//! treat a pattern of exactly `*` as "everything", as Redis's do, so an empty key still matches).
//!
//! **The bound.** A pattern with many stars (`a*a*a*...*b`) against a long text is exponential
//! when every star retries every length. As Redis 7.0 does, once the rest of a pattern after a
//! star has failed at every position of the text, no earlier star can help (it would only start
//! the rest later), so the whole match fails at once: a match is then at most (stars × text
//! length) steps. And as Redis 7.2.6/7.4 do, nesting is capped: past 1000 stars deep the answer is
//! "no match", so a huge pattern cannot overflow a worker's stack.

/// Stars nested deeper than this make the match fail (Redis's limit).
const MAX_NESTING: usize = 1000;

/// True if `text` matches `pattern`. `nocase` compares ASCII letters case-insensitively.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut give_up = false;
    match_from(pattern, text, nocase, &mut give_up, 0)
}

/// A byte as C's (signed) `char`, lower-cased when `nocase`: how Redis compares range bounds.
fn as_c_char(b: u8, nocase: bool) -> i32 {
    let b = if nocase { b.to_ascii_lowercase() } else { b };
    i32::from(b as i8)
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches `t` against `p`. `give_up` is set once a star's rest failed everywhere (see the module
/// doc): every caller up the stack then fails too.
fn match_from(mut p: &[u8], mut t: &[u8], nocase: bool, give_up: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while !p.is_empty() && !t.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                // Try the rest at every non-empty suffix of the text.
                while !t.is_empty() {
                    if match_from(&p[1..], t, nocase, give_up, nesting + 1) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    t = &t[1..];
                }
                *give_up = true;
                return false;
            }
            b'?' => {}
            b'[' => {
                let (matched, last) = match_class(p, t[0], nocase);
                if !matched {
                    return false;
                }
                // Stand on the class's last byte; the common step below consumes it.
                p = &p[last..];
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !same(p[0], t[0], nocase) {
                    return false;
                }
            }
            c => {
                if !same(c, t[0], nocase) {
                    return false;
                }
            }
        }
        p = &p[1..];
        t = &t[1..];
        if t.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
        }
    }
    p.is_empty() && t.is_empty()
}

/// Matches `ch` against the class that starts `p` (at its `[`). Returns the verdict and the index
/// in `p` of the class's last byte: its `]`, or, for a class left open, the pattern's last byte
/// (Redis reads an open class to the end of the pattern).
fn match_class(p: &[u8], ch: u8, nocase: bool) -> (bool, usize) {
    let negate = p.get(1) == Some(&b'^');
    let mut i = if negate { 2 } else { 1 };
    let mut matched = false;
    loop {
        match &p[i..] {
            [b'\\', c, ..] => {
                i += 1;
                matched |= *c == ch;
            }
            [b']', ..] => break,
            [] => {
                i -= 1;
                break;
            }
            [lo, b'-', hi, ..] => {
                let (mut lo, mut hi) = (as_c_char(*lo, false), as_c_char(*hi, false));
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                if nocase {
                    (lo, hi) = (lower_c(lo), lower_c(hi));
                }
                matched |= (lo..=hi).contains(&as_c_char(ch, nocase));
                i += 2;
            }
            [c, ..] => matched |= same(*c, ch, nocase),
        }
        i += 1;
    }
    (matched != negate, i)
}

/// C's `tolower` on a signed `char` value (ASCII letters only, as in the C locale).
fn lower_c(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        assert!(matches(b"*", b"anything", false));
        assert!(matches(b"h?llo", b"hello", false));
        assert!(matches(b"h*llo", b"heeeello", false));
        assert!(matches(b"h[ae]llo", b"hallo", false));
        assert!(!matches(b"h[^e]llo", b"hello", false));
        assert!(matches(b"h[a-b]llo", b"hbllo", false));
        assert!(matches(b"h[b-a]llo", b"hbllo", false));
        assert!(matches(b"h\\*llo", b"h*llo", false));
        assert!(!matches(b"h\\*llo", b"hallo", false));
        assert!(matches(b"MAXMEM*", b"maxmemory", true));
        assert!(!matches(b"a*b", b"acbd", false));
        assert!(matches(b"a*b*", b"acbd", false));
        assert!(matches(b"", b"", false));
        assert!(!matches(b"a", b"", false));
    }

    /// Redis 7.0's corner cases, each checked against redis-server 7.0.15 (`KEYS` over one key).
    #[test]
    fn redis_corner_cases() {
        // `*` alone does not match the empty text (callers special-case the pattern `*`).
        assert!(!matches(b"*", b"", false));
        // Trailing stars match nothing once the text is used up.
        assert!(matches(b"a**", b"a", false));
        // An open class runs to the end of the pattern.
        assert!(matches(b"[abc", b"b", false));
        assert!(!matches(b"[abc", b"d", false));
        assert!(matches(b"x[ab", b"xa", false));
        // `[a-]` is the range `]`..=a (and open); `[^` matches any byte.
        assert!(matches(b"[a-]", b"]", false));
        assert!(matches(b"[a-]", b"`", false));
        assert!(!matches(b"[a-]", b"b", false));
        assert!(matches(b"[^", b"x", false));
        assert!(!matches(b"[", b"[", false));
        // A trailing backslash is a literal backslash.
        assert!(matches(b"a\\", b"a\\", false));
        // An escape inside a class compares exactly, even with nocase.
        assert!(!matches(b"[\\A]", b"a", true));
        assert!(matches(b"[A]", b"a", true));
        // Range bounds are signed chars: 0xff (-1) sorts below 'a'.
        assert!(matches(b"[\xff-a]", b"0", false));
        assert!(!matches(b"[a-\xff]", b"b", false));
    }

    #[test]
    fn many_stars_are_bounded() {
        let pattern = format!("{}b", "a*".repeat(40));
        let text = "a".repeat(10_000);
        assert!(!matches(pattern.as_bytes(), text.as_bytes(), false));
        // Nested deeper than Redis's limit: no match, and no stack overflow.
        let deep = "a*".repeat(5_000);
        assert!(!matches(deep.as_bytes(), "a".repeat(6_000).as_bytes(), false));
        let shallow = "a*".repeat(900);
        assert!(matches(shallow.as_bytes(), "a".repeat(1_000).as_bytes(), false));
    }
}
