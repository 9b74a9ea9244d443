//! ACL users as Redis 7.0 has them: users with passwords (kept as SHA-256), on/off, and rights
//! over commands (by name, category and subcommand), keys (`~pattern`, `%R~`, `%W~`) and pub/sub
//! channels; the `user` directive, `aclfile` with ACL LOAD and ACL SAVE, and the ACL LOG of
//! denials. `requirepass` is the default user's password.
//!
//! A user's rights may be split into selectors (`(~k* +get)`, Redis 7.0's): a request is allowed
//! when one selector allows all of it (see [`User::check`]).
//!
//! A client holds the [`AclUser`] it authenticated as; a change of that user's rules (ACL
//! SETUSER) takes effect on its next command, as in Redis. The dispatcher's only cost for a user
//! with every right (the default user, usually) is one relaxed atomic load
//! ([`AclUser::unrestricted`]).

mod catalog;
mod log;
mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub use catalog::{catalog, Catalog, CATEGORIES};
pub use log::{AclLog, LogEntry};
pub use user::{Denied, RuleError, Selector, User};

/// A user as clients hold it: its name and its current rules.
pub struct AclUser {
    /// The user name.
    pub name: String,
    rules: RwLock<Arc<User>>,
    unrestricted: AtomicBool,
}

impl AclUser {
    fn new(name: String, rules: User) -> Arc<AclUser> {
        let unrestricted = AtomicBool::new(rules.unrestricted());
        Arc::new(AclUser { name, rules: RwLock::new(Arc::new(rules)), unrestricted })
    }

    /// True if the user may run every command on every key and channel: nothing to check.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Relaxed)
    }

    /// The user's rules now.
    pub fn rules(&self) -> Arc<User> {
        self.rules.read().clone()
    }

    fn set(&self, rules: User) {
        self.unrestricted.store(rules.unrestricted(), Ordering::Relaxed);
        *self.rules.write() = Arc::new(rules);
    }
}

/// Why ACL SETUSER (or a `user` line) cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetUserError {
    /// A user name with a space or a NUL byte.
    #[error("Usernames can't contain spaces or null characters")]
    BadName,
    /// A selector opened with `(` and never closed with `)` (its first word).
    #[error("Unmatched parenthesis in acl selector starting at '{0}'.")]
    UnmatchedParenthesis(String),
    /// A rule that cannot be applied.
    #[error("Error in ACL SETUSER modifier '{rule}': {error}")]
    Rule {
        /// The rule as given.
        rule: String,
        /// Why.
        error: RuleError,
    },
}

/// Why an ACL file cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It cannot be read.
    #[error("Error loading ACLs, opening file '{file}': {error}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        error: std::io::Error,
    },
    /// Lines that are not valid users (Redis's text: every error, `file:line: why. `).
    #[error("{0}")]
    Lines(String),
}

/// All users, and the ACL LOG.
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<AclUser>>>,
    default: Arc<AclUser>,
    /// `acl-pubsub-default allchannels`.
    pubsub_all: AtomicBool,
    /// Denials and failed logins (ACL LOG).
    pub log: AclLog,
}

impl Default for Acl {
    fn default() -> Self {
        Self::new()
    }
}

impl Acl {
    /// Only the default user, `on nopass ~* &* +@all`.
    pub fn new() -> Acl {
        let default = AclUser::new("default".to_string(), User::default_user(catalog()));
        let users = RwLock::new(BTreeMap::from([("default".to_string(), default.clone())]));
        Acl { users, default, pubsub_all: AtomicBool::new(false), log: AclLog::default() }
    }

    /// `acl-pubsub-default`: true for `allchannels` (the channels of new and `reset` users).
    pub fn set_pubsub_default(&self, all: bool) {
        self.pubsub_all.store(all, Ordering::Relaxed);
    }

    /// True for `acl-pubsub-default allchannels`.
    pub fn pubsub_default(&self) -> bool {
        self.pubsub_all.load(Ordering::Relaxed)
    }

    /// The default user (new connections start as it).
    pub fn default_user(&self) -> &Arc<AclUser> {
        &self.default
    }

    /// A user by name.
    pub fn get(&self, name: &[u8]) -> Option<Arc<AclUser>> {
        self.users.read().get(std::str::from_utf8(name).ok()?).cloned()
    }

    /// The user names, sorted (ACL USERS).
    pub fn names(&self) -> Vec<String> {
        self.users.read().keys().cloned().collect()
    }

    /// Every user in config-file form, sorted by name (ACL LIST, ACL SAVE).
    pub fn list(&self) -> Vec<String> {
        self.users.read().values().map(|u| format!("user {} {}", u.name, u.rules().describe())).collect()
    }

    /// True if a new connection must authenticate: the default user is off or has passwords.
    pub fn default_needs_auth(&self) -> bool {
        let d = self.default.rules();
        !(d.enabled && d.nopass)
    }

    /// ACL SETUSER: applies `rules` to user `name` (created if new), all or none. Returns the user.
    pub fn setuser<R: AsRef<[u8]>>(&self, name: &[u8], rules: &[R]) -> Result<Arc<AclUser>, SetUserError> {
        if name.iter().any(|&b| b == b' ' || b == 0) {
            return Err(SetUserError::BadName);
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let mut users = self.users.write();
        let existing = users.get(&name).cloned();
        let pubsub_all = self.pubsub_default();
        let mut next = existing.as_ref().map_or_else(|| User::new(catalog(), pubsub_all), |u| (*u.rules()).clone());
        next.set_pubsub_default(pubsub_all);
        apply_all(&mut next, rules)?;
        Ok(match existing {
            Some(user) => {
                user.set(next);
                user
            }
            None => {
                let user = AclUser::new(name.clone(), next);
                users.insert(name, user.clone());
                user
            }
        })
    }

    /// ACL DELUSER: removes the users named (never `default`: the caller refuses it). Returns
    /// those removed, whose clients are to be disconnected.
    pub fn deluser(&self, names: &[&[u8]]) -> Vec<Arc<AclUser>> {
        let mut users = self.users.write();
        names
            .iter()
            .filter_map(|n| std::str::from_utf8(n).ok())
            .filter(|n| *n != "default")
            .filter_map(|n| users.remove(n))
            .collect()
    }

    /// AUTH: the user if it exists, is on, and `password` is one of its own (any, if nopass).
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<AclUser>> {
        let user = self.get(name)?;
        let rules = user.rules();
        (rules.enabled && rules.password_ok(password)).then_some(user)
    }

    /// `requirepass` (start, CONFIG SET): the default user's password becomes `password`, or
    /// `nopass` when it is empty, as Redis's `ACLUpdateDefaultUserPassword`.
    pub fn set_default_password(&self, password: &str) {
        let mut rules = (*self.default.rules()).clone();
        let c = catalog();
        let _ = rules.apply(c, b"resetpass");
        let rule = if password.is_empty() { "nopass".to_string() } else { format!(">{password}") };
        let _ = rules.apply(c, rule.as_bytes());
        self.default.set(rules);
    }

    /// Replaces every user but the default one with `users` (ACL LOAD, `user` lines at start);
    /// the default user takes the rules `users` gives it, if any, or else (with `reset_default`,
    /// as an ACL file does) `on nopass ~* &* +@all`. Returns the users replaced, whose clients are
    /// to be disconnected.
    pub fn replace(&self, users: Vec<(String, User)>, reset_default: bool) -> Vec<Arc<AclUser>> {
        if reset_default && !users.iter().any(|(n, _)| n == "default") {
            self.default.set(User::default_user(catalog()));
        }
        let mut map = self.users.write();
        let old: Vec<Arc<AclUser>> = std::mem::take(&mut *map).into_values().filter(|u| u.name != "default").collect();
        map.insert("default".to_string(), self.default.clone());
        for (name, rules) in users {
            if name == "default" {
                self.default.set(rules);
            } else {
                map.insert(name.clone(), AclUser::new(name, rules));
            }
        }
        old
    }
}

/// Joins a selector given over several words (`(~k*` `+get)`, as a config line or a shell splits
/// it) into one rule, as Redis's `ACLMergeSelectorArguments`: a word that starts with `(` and
/// does not end with `)` opens a selector, which takes every following word, space-separated,
/// up to one that ends with `)`. Err: the word that opened a selector never closed, by index.
pub fn merge_selector_words<R: AsRef<[u8]>>(words: &[R]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::with_capacity(words.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, word) in words.iter().enumerate() {
        let word = word.as_ref();
        if word.first() == Some(&b'(') && word.last() != Some(&b')') {
            // Redis starts over at a second unclosed `(`, dropping the first.
            open = Some((i, word.to_vec()));
        } else if let Some((_, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(word);
            if word.last() == Some(&b')') {
                merged.extend(open.take().map(|(_, selector)| selector));
            }
        } else {
            merged.push(word.to_vec());
        }
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

/// Applies rules in order, as ACL SETUSER does, a selector given over several words joined first.
fn apply_all<R: AsRef<[u8]>>(user: &mut User, rules: &[R]) -> Result<(), SetUserError> {
    let rules = merge_selector_words(rules).map_err(|start| {
        SetUserError::UnmatchedParenthesis(String::from_utf8_lossy(rules[start].as_ref()).into_owned())
    })?;
    let c = catalog();
    for rule in &rules {
        user.apply(c, rule)
            .map_err(|error| SetUserError::Rule { rule: String::from_utf8_lossy(rule).into_owned(), error })?;
    }
    Ok(())
}

/// A `user` directive's rules applied to a new user (checks a config file's line; the user is
/// created when the server starts), `pubsub_all` being `acl-pubsub-default allchannels`.
pub fn user_from_rules(name: &str, rules: &[String], pubsub_all: bool) -> Result<User, SetUserError> {
    if name.bytes().any(|b| b == b' ' || b == 0) {
        return Err(SetUserError::BadName);
    }
    let mut user = User::new(catalog(), pubsub_all);
    apply_all(&mut user, rules)?;
    Ok(user)
}

/// Parses an ACL file's text (lines `user <name> <rules...>`, as ACL SAVE writes them) into
/// users, or every error found, in Redis's words. As Redis 7.0's `ACLLoadFromFile`, a line is
/// split at single spaces (quotes are not special), a selector's words are joined again, and of a
/// line's errors every unknown command or category is reported with its rule, but of the others
/// only the first, and without the rule (it may hold a password).
pub fn parse_acl_file(file: &str, text: &str, pubsub_all: bool) -> Result<Vec<(String, User)>, String> {
    let mut users: Vec<(String, User)> = Vec::new();
    let mut errors = String::new();
    let c = catalog();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            continue;
        }
        let lineno = i + 1;
        let words: Vec<&str> = line.split(' ').collect();
        if words.len() < 2 || words[0] != "user" {
            errors.push_str(&format!("{file}:{lineno} should start with user keyword followed by the username. "));
            continue;
        }
        let name = words[1];
        if name.bytes().any(|b| b == 0 || b == b' ' || (b'\t'..=b'\r').contains(&b)) {
            errors.push_str(&format!("'{file}:{lineno}: username '{name}' contains invalid characters. "));
            continue;
        }
        if users.iter().any(|(n, _)| n == name) {
            errors.push_str(&format!("WARNING: Duplicate user '{name}' found on line {lineno}. "));
            continue;
        }
        let Ok(rules) = merge_selector_words(&words[2..]) else {
            // Redis's text, without the space its other errors end with. (Redis 7.0.15 reports
            // it so when the selector opens the rules, and crashes when a rule comes before.)
            errors.push_str(&format!("{file}:{lineno}: Unmatched parenthesis in selector definition."));
            continue;
        };
        let mut user = User::new(c, pubsub_all);
        let mut reported_other = false;
        for rule in &rules {
            let rule = trim_bytes(rule, b"\t\r\n");
            if let Err(error) = user.apply(c, rule) {
                if error.is_unknown_name() {
                    let rule = String::from_utf8_lossy(rule);
                    errors.push_str(&format!("{file}:{lineno}: Error in applying operation '{rule}': {error}. "));
                } else if !reported_other {
                    errors.push_str(&format!("{file}:{lineno}: {error}. "));
                    reported_other = true;
                }
            }
        }
        // Kept even with errors (then the whole file is refused): a later line for the same
        // user is a duplicate all the same, as in Redis.
        users.push((name.to_string(), user));
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        Err(errors)
    }
}

/// `bytes` without any of `set` at either end.
fn trim_bytes<'a>(bytes: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = bytes.iter().position(|b| !set.contains(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !set.contains(b)).map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// Reads and parses an ACL file (`pubsub_all`: `acl-pubsub-default allchannels`).
pub fn load_acl_file(file: &str, pubsub_all: bool) -> Result<Vec<(String, User)>, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|error| LoadError::Io { file: file.to_string(), error })?;
    parse_acl_file(file, &text, pubsub_all).map_err(LoadError::Lines)
}

/// Writes every user to `file` (ACL SAVE): a temporary file renamed over it, so a crash leaves
/// the old file or the new one.
pub fn save_acl_file(acl: &Acl, file: &str) -> std::io::Result<()> {
    let mut text = String::new();
    for line in acl.list() {
        text.push_str(&line);
        text.push('\n');
    }
    let tmp = format!("{file}.tmp-{}", std::process::id());
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, file)
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
}
