//! Glob-style pattern matching with Redis's rules (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET).
//!
//! `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal x.

/// True if `text` matches `pattern`. `nocase` compares ASCII letters case-insensitively.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    matches_at(pattern, text, nocase, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn matches_at(mut p: &[u8], mut t: &[u8], nocase: bool, depth: usize) -> bool {
    // Deeply nested stars cannot blow the stack: give up (no match) past a sane depth.
    if depth > 1000 {
        return false;
    }
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..=t.len() {
                    if matches_at(&p[1..], &t[start..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if t.is_empty() {
                    return false;
                }
                t = &t[1..];
                p = &p[1..];
            }
            b'[' => {
                let Some(&ch) = t.first() else { return false };
                let (matched, rest) = match_class(&p[1..], ch, nocase);
                if !matched {
                    return false;
                }
                p = rest;
                t = &t[1..];
            }
            b'\\' if p.len() >= 2 => {
                if t.first().is_none_or(|&ch| !eq(p[1], ch, nocase)) {
                    return false;
                }
                p = &p[2..];
                t = &t[1..];
            }
            _ => {
                if t.first().is_none_or(|&ch| !eq(c, ch, nocase)) {
                    return false;
                }
                p = &p[1..];
                t = &t[1..];
            }
        }
    }
    t.is_empty()
}

/// Matches `ch` against a class body (after `[`); returns the verdict and the pattern after `]`.
fn match_class(mut p: &[u8], ch: u8, nocase: bool) -> (bool, &[u8]) {
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        match p {
            [] => break,
            [b']', rest @ ..] => {
                p = rest;
                break;
            }
            [b'\\', c, rest @ ..] => {
                matched |= eq(*c, ch, nocase);
                p = rest;
            }
            [a, b'-', b, rest @ ..] if *b != b']' => {
                let (lo, hi) = if a <= b { (*a, *b) } else { (*b, *a) };
                let (lo, hi, x) = if nocase {
                    (lo.to_ascii_lowercase(), hi.to_ascii_lowercase(), ch.to_ascii_lowercase())
                } else {
                    (lo, hi, ch)
                };
                matched |= (lo..=hi).contains(&x);
                p = rest;
            }
            [c, rest @ ..] => {
                matched |= eq(*c, ch, nocase);
                p = rest;
            }
        }
    }
    (matched != negate, p)
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
        assert!(matches(b"h\\*llo", b"h*llo", false));
        assert!(!matches(b"h\\*llo", b"hallo", false));
        assert!(matches(b"MAXMEM*", b"maxmemory", true));
        assert!(!matches(b"a*b", b"acbd", false));
        assert!(matches(b"", b"", false));
        assert!(!matches(b"a", b"", false));
    }
}
