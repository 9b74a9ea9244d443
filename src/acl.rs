//! ACL, as far as meshkv goes: one user, `default`, with every command, key and channel, whose
//! password is `requirepass`.
//!
//! ACL users with restricted rights are not implemented. So that a config file or an ACL SETUSER
//! never describes a restriction that would not be enforced, only rules that leave the default
//! user with every right are accepted (`user default on >secret ~* &* +@all`, the usual way to
//! set its password); any other user, and any rule that restricts, is refused with the reason.

/// The default user's state while rules are applied (Redis's user flags, reduced to what the
/// accepted rules can change).
struct DefaultUser {
    on: bool,
    nopass: bool,
    passwords: Vec<String>,
    all_keys: bool,
    all_channels: bool,
    all_commands: bool,
}

/// Why a rule set cannot be used (the text follows `ERR Error in ACL SETUSER modifier '...': `
/// or a config file's line).
const ONLY_FULL_RIGHTS: &str =
    "ACL users are not implemented by meshkv: the only user is 'default', with every command, \
    key and channel (rules such as on, >password, nopass, ~*, &*, +@all); its password is requirepass";

/// Applies `user default` rules (a config file line, or ACL SETUSER) to the default user whose
/// password is now `requirepass` (empty: none), as Redis applies them in order. Returns the new
/// `requirepass`, or why the rules cannot be honoured: a rule that would restrict the user (it
/// would not be enforced), or a result other than "on, every right, one password or none".
pub fn apply_default_user_rules(requirepass: &str, rules: &[&str]) -> Result<String, String> {
    let mut user = DefaultUser {
        on: true,
        nopass: requirepass.is_empty(),
        passwords: if requirepass.is_empty() { Vec::new() } else { vec![requirepass.to_string()] },
        all_keys: true,
        all_channels: true,
        all_commands: true,
    };
    for rule in rules {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "on" => user.on = true,
            "off" => user.on = false,
            "nopass" => {
                user.nopass = true;
                user.passwords.clear();
            }
            "resetpass" => {
                user.nopass = false;
                user.passwords.clear();
            }
            "~*" | "allkeys" | "%rw~*" => user.all_keys = true,
            "resetkeys" => user.all_keys = false,
            "&*" | "allchannels" => user.all_channels = true,
            "resetchannels" => user.all_channels = false,
            "+@all" | "allcommands" => user.all_commands = true,
            "-@all" | "nocommands" => user.all_commands = false,
            "sanitize-payload" | "skip-sanitize-payload" => {} // RESTORE is not implemented
            "reset" => {
                user = DefaultUser {
                    on: false,
                    nopass: false,
                    passwords: Vec::new(),
                    all_keys: false,
                    all_channels: false,
                    all_commands: false,
                }
            }
            _ => {
                if let Some(password) = rule.strip_prefix('>') {
                    user.nopass = false;
                    if !user.passwords.iter().any(|p| p == password) {
                        user.passwords.push(password.to_string());
                    }
                } else if let Some(password) = rule.strip_prefix('<') {
                    user.passwords.retain(|p| p != password);
                } else {
                    return Err(format!("'{rule}' is not supported: {ONLY_FULL_RIGHTS}"));
                }
            }
        }
    }
    if !(user.on && user.all_keys && user.all_channels && user.all_commands) {
        return Err(format!("the default user would lose rights: {ONLY_FULL_RIGHTS}"));
    }
    if user.nopass {
        return Ok(String::new());
    }
    match user.passwords.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("the default user would have no password and no nopass: {ONLY_FULL_RIGHTS}")),
        _ => Err(format!("the default user would have several passwords: {ONLY_FULL_RIGHTS}")),
    }
}

/// The default user's rules as ACL LIST shows them.
pub fn describe_default_user(requirepass: &str) -> String {
    match requirepass {
        "" => "user default on nopass ~* &* +@all".to_string(),
        p => format!("user default on #{} ~* &* +@all", sha256_hex(p.as_bytes())),
    }
}

/// SHA-256 of `data` in lower-case hex: how Redis shows a password (ACL LIST, ACL GETUSER).
pub fn sha256_hex(data: &[u8]) -> String {
    sha256(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (FIPS 180-4).
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answers() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // Redis 7.0.15's ACL LIST for `requirepass pw`.
        assert_eq!(sha256_hex(b"pw"), "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
        let long = vec![b'a'; 1000];
        assert_eq!(sha256_hex(&long), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    }

    #[test]
    fn only_rules_that_keep_every_right_are_accepted() {
        assert_eq!(apply_default_user_rules("", &["on", ">pw", "~*", "&*", "+@all"]), Ok("pw".into()));
        assert_eq!(
            apply_default_user_rules("old", &["reset", "on", ">pw", "allkeys", "allchannels", "allcommands"]),
            Ok("pw".into())
        );
        assert_eq!(apply_default_user_rules("old", &["nopass"]), Ok(String::new()));
        assert_eq!(apply_default_user_rules("old", &["resetpass", ">new"]), Ok("new".into()));
        assert_eq!(apply_default_user_rules("old", &["<old", "nopass"]), Ok(String::new()));
        for bad in [
            &["~cache:*"][..],
            &["-@dangerous"],
            &["off"],
            &["resetkeys"],
            &["-flushall"],
            &["#abc"],
            &[">a", ">b"],
            &["resetpass"],
        ] {
            assert!(apply_default_user_rules("", bad).is_err(), "{bad:?}");
        }
    }
}
