//! One user's rules, as Redis 7.0's `ACLSetUser` applies them, and the checks made with them.
//!
//! A user has flags, passwords and rights. The rights come in selectors: the root selector holds
//! the rules given outside parentheses, and each `(...)` rule adds one more selector with its own
//! commands, key patterns and channel patterns. A request is allowed when one selector allows all
//! of it (the command, its keys and its channels together), as Redis 7.0's
//! `ACLCheckAllUserCommandPerm`: `(~a* +get) (~b* +set)` lets GET read `a1` and SET write `b1`,
//! but neither GET `b1` nor SET `a1`.
//!
//! Commands are a bitmap over the [`Catalog`]'s ids, so a check is one bit test (and none at all
//! for a selector with `+@all`).

use std::collections::HashMap;

use bytes::Bytes;

use super::catalog::{Catalog, READ, WRITE};

/// Why a rule cannot be applied (Redis 7.0's texts, which follow `Error in ACL SETUSER modifier
/// '<rule>': `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Not a rule, or a pattern with a space in it.
    #[error("Syntax error")]
    Syntax,
    /// `+foo`, `+@foo`.
    #[error("Unknown command or category name in ACL")]
    Unknown,
    /// A key pattern after `allkeys`.
    #[error("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")]
    AfterAllKeys,
    /// A channel pattern after `allchannels`.
    #[error("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")]
    AfterAllChannels,
    /// `<pw` or `!hash` for a password the user does not have.
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    /// `#hash` that is not a SHA-256 in lower-case hex.
    #[error("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    BadHash,
    /// `+config|get|x`-like first arguments of a subcommand.
    #[error("Allowing first-arg of a subcommand is not supported")]
    SubcommandFirstArg,
}

impl RuleError {
    /// True for an unknown command or category: the one error an ACL file reports with the rule
    /// that caused it (Redis prints only the first of the others, without the rule, as they may
    /// hold a password).
    pub fn is_unknown_name(&self) -> bool {
        *self == RuleError::Unknown
    }
}

/// What a check denied, with the position of the argument at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The command (or subcommand).
    Command,
    /// The key at this argument position.
    Key(usize),
    /// The channel at this argument position.
    Channel(usize),
}

impl Denied {
    /// How Redis picks the one denial to report when no selector allows a request: a channel
    /// over a key over the command (its `ACL_DENIED_*` values), and of two alike the later
    /// argument.
    fn weight(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(pos) => (2, pos),
            Denied::Channel(pos) => (4, pos),
        }
    }
}

/// A key pattern and what it grants.
#[derive(Clone, PartialEq, Eq)]
struct KeyPattern {
    pattern: Bytes,
    /// [`READ`] | [`WRITE`].
    grants: u8,
}

/// True if a pattern has a byte Redis refuses in one (`ACLStringHasSpaces`: white space or NUL).
fn has_spaces(pattern: &[u8]) -> bool {
    pattern.iter().any(|&b| b == 0 || b == b' ' || (b'\t'..=b'\r').contains(&b))
}

/// One set of rights over commands, keys and channels: a user's root selector or one of its
/// `(...)` selectors (Redis's `aclSelector`).
#[derive(Clone)]
pub struct Selector {
    /// Every command is allowed (the check is skipped).
    all_commands: bool,
    /// `+@all` (or `allcommands`) came last of `+@all`/`-@all`: how the rules are described.
    future_commands: bool,
    allowed: Vec<u64>,
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by command id.
    first_args: HashMap<usize, Vec<String>>,
    /// The command rules as given, compacted (how they are described back).
    command_rules: Vec<String>,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Bytes>,
}

impl Selector {
    /// No command and no key; every channel or none (`acl-pubsub-default`).
    fn new(catalog: &Catalog, all_channels: bool) -> Selector {
        Selector {
            all_commands: false,
            future_commands: false,
            allowed: vec![0; catalog.len().div_ceil(64)],
            first_args: HashMap::new(),
            command_rules: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    /// A `(...)` rule's selector: its words (split as Redis's `sdssplitargs`, so `"..."` quotes)
    /// applied in order to a new selector. Words with unbalanced quotes give an empty selector,
    /// as in Redis.
    fn parse(catalog: &Catalog, rule: &[u8], all_channels: bool) -> Result<Selector, RuleError> {
        let inner = &rule[1..rule.len() - 1];
        let mut words = Vec::new();
        if crate::protocol::split_args_for_config(inner, &mut words).is_err() {
            words.clear();
        }
        let mut selector = Selector::new(catalog, all_channels);
        for word in &words {
            selector.apply(catalog, word)?;
        }
        Ok(selector)
    }

    /// Every command, key and channel.
    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Applies one rule about commands, keys or channels, as Redis's `ACLSetSelector`.
    fn apply(&mut self, catalog: &Catalog, rule: &[u8]) -> Result<(), RuleError> {
        let lower = String::from_utf8_lossy(rule).to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => {
                self.allowed.iter_mut().for_each(|w| *w = u64::MAX);
                self.all_commands = true;
                self.future_commands = true;
                self.command_rules.clear();
                self.first_args.clear();
            }
            "nocommands" | "-@all" => {
                self.allowed.iter_mut().for_each(|w| *w = 0);
                self.all_commands = false;
                self.future_commands = false;
                self.command_rules.clear();
                self.first_args.clear();
            }
            _ => return self.apply_prefixed(catalog, rule, &lower),
        }
        Ok(())
    }

    fn apply_prefixed(&mut self, catalog: &Catalog, rule: &[u8], lower: &str) -> Result<(), RuleError> {
        match rule.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(rule)?,
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::AfterAllChannels);
                }
                if has_spaces(&rule[1..]) {
                    return Err(RuleError::Syntax);
                }
                let pattern = Bytes::copy_from_slice(&rule[1..]);
                if !self.channels.contains(&pattern) {
                    self.channels.push(pattern);
                }
            }
            Some(b'+') | Some(b'-') if lower.as_bytes().get(1) == Some(&b'@') => {
                let allow = rule[0] == b'+';
                let bit = Catalog::category(&lower[2..]).ok_or(RuleError::Unknown)?;
                for id in 0..catalog.len() {
                    if catalog.entries[id].categories & bit != 0 {
                        self.change(catalog, id, allow);
                    }
                }
                self.update_rules(&lower[1..], allow);
            }
            Some(b'+') => {
                let name = &lower[1..];
                // As Redis, the first argument is what follows the last `|`: `+config|get|x`
                // names a first argument of the subcommand `config|get`.
                match name.rsplit_once('|') {
                    None => {
                        let id = catalog.id(name).ok_or(RuleError::Unknown)?;
                        self.change(catalog, id, true);
                        self.update_rules(name, true);
                    }
                    Some((command, sub)) => {
                        let id = catalog.id(command).ok_or(RuleError::Unknown)?;
                        if catalog.entries[id].is_sub {
                            return Err(RuleError::SubcommandFirstArg);
                        }
                        if sub.is_empty() {
                            return Err(RuleError::Syntax);
                        }
                        if !catalog.entries[id].children.is_empty() {
                            let sub_id = catalog.id(name).ok_or(RuleError::Unknown)?;
                            self.change(catalog, sub_id, true);
                        } else {
                            let args = self.first_args.entry(id).or_default();
                            if !args.iter().any(|a| a == sub) {
                                args.push(sub.to_string());
                            }
                        }
                        self.update_rules(name, true);
                    }
                }
            }
            Some(b'-') => {
                let name = &lower[1..];
                let id = catalog.id(name).ok_or(RuleError::Unknown)?;
                self.change(catalog, id, false);
                self.update_rules(name, false);
            }
            _ => return Err(RuleError::Syntax),
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::AfterAllKeys);
        }
        let (grants, offset) = if rule[0] == b'%' {
            let mut grants = 0;
            let mut offset = 1;
            loop {
                match rule.get(offset).map(u8::to_ascii_uppercase) {
                    Some(b'R') if grants & READ == 0 => grants |= READ,
                    Some(b'W') if grants & WRITE == 0 => grants |= WRITE,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    // `%R` with no `~`: an empty pattern, as Redis reads it.
                    None => break,
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            // `%~k` would grant nothing (Redis 7.0 takes it, then cannot describe it).
            if grants == 0 {
                return Err(RuleError::Syntax);
            }
            (grants, offset)
        } else {
            (READ | WRITE, 1)
        };
        let pattern = &rule[offset..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        // `%RW~*` is a pattern like any other (only `~*` and `allkeys` mean every key), as in
        // Redis: patterns may follow it.
        if let Some(existing) = self.keys.iter_mut().find(|k| k.pattern == pattern) {
            existing.grants |= grants;
        } else {
            self.keys.push(KeyPattern { pattern: Bytes::copy_from_slice(pattern), grants });
        }
        Ok(())
    }

    /// Allows or denies command `id` and, for a container, every subcommand (Redis's
    /// `ACLChangeSelectorPerm`).
    fn change(&mut self, catalog: &Catalog, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.remove(&id);
        for &child in &catalog.entries[id].children {
            self.set_bit(child, allow);
        }
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        if allow {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    fn bit(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    /// Records a command rule, replacing earlier ones for the same command (and its subcommands)
    /// or category, so that the description replays to the same rights.
    fn update_rules(&mut self, rule: &str, allow: bool) {
        self.command_rules.retain(|r| {
            let existing = &r[1..];
            !(existing == rule || existing.strip_prefix(rule).is_some_and(|tail| tail.starts_with('|')))
        });
        self.command_rules.push(format!("{}{rule}", if allow { '+' } else { '-' }));
    }

    /// The command rules (ACL GETUSER's `commands`): `+@all` or `-@all`, then the rules given
    /// since.
    pub fn describe_commands(&self) -> String {
        let mut s = String::from(if self.future_commands { "+@all" } else { "-@all" });
        for r in &self.command_rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    /// The key patterns (ACL GETUSER's `keys`).
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".to_string();
        }
        let patterns: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let prefix = match k.grants {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
            })
            .collect();
        patterns.join(" ")
    }

    /// The channel patterns (ACL GETUSER's `channels`).
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".to_string();
        }
        let patterns: Vec<String> = self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect();
        patterns.join(" ")
    }

    /// The selector in rule form (Redis's `ACLDescribeSelector`): keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".to_string());
        } else {
            parts.push("resetchannels".to_string());
            let channels = self.describe_channels();
            if !channels.is_empty() {
                parts.push(channels);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// Checks a request as Redis 7.0's `ACLSelectorCheckCmd`: the command, then its keys, then
    /// its channels (see [`User::check`]).
    fn check(
        &self,
        catalog: &Catalog,
        (id, first_arg): (usize, usize),
        no_auth: bool,
        args: &[Bytes],
        keys: &[usize],
    ) -> Result<(), Denied> {
        if !self.all_commands && !no_auth && !self.bit(id) {
            let allowed = args.get(first_arg).is_some_and(|a| {
                let a = String::from_utf8_lossy(a).to_ascii_lowercase();
                self.first_args.get(&id).is_some_and(|list| list.contains(&a))
            });
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys {
            let (first, rest) = catalog.key_needs(id, args);
            for (n, &pos) in keys.iter().enumerate() {
                let needs = if n == 0 { first } else { rest };
                if !self.key_allowed(&args[pos], needs) {
                    return Err(Denied::Key(pos));
                }
            }
        }
        if !self.all_channels {
            let name = &catalog.entries[id].name;
            let (positions, patterns) = match name.as_str() {
                "publish" | "spublish" => (1..2.min(args.len()), false),
                "subscribe" | "ssubscribe" => (1..args.len(), false),
                "psubscribe" => (1..args.len(), true),
                _ => (0..0, false),
            };
            for pos in positions {
                if !self.channel_allowed(&args[pos], patterns) {
                    return Err(Denied::Channel(pos));
                }
            }
        }
        Ok(())
    }

    /// True if a pattern that grants at least `needs` matches `key`.
    fn key_allowed(&self, key: &[u8], needs: u8) -> bool {
        self.all_keys
            || self.keys.iter().any(|k| k.grants & needs == needs && crate::glob::matches(&k.pattern, key, false))
    }

    /// True if the selector may use `channel`; a pattern (PSUBSCRIBE) must be one of its
    /// patterns exactly, as in Redis.
    fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self
                .channels
                .iter()
                .any(|c| if is_pattern { c == channel } else { crate::glob::matches(c, channel, false) })
    }
}

/// A user's flags, passwords and rights.
#[derive(Clone)]
pub struct User {
    /// `on`.
    pub enabled: bool,
    /// `nopass`: any password is accepted.
    pub nopass: bool,
    /// `sanitize-payload` (true), `skip-sanitize-payload` (false), or neither.
    pub sanitize_payload: Option<bool>,
    /// Password hashes (SHA-256, lower-case hex), in the order they were added.
    pub passwords: Vec<String>,
    /// The rights given outside parentheses.
    root: Selector,
    /// The `(...)` selectors, in the order added.
    selectors: Vec<Selector>,
    /// `acl-pubsub-default allchannels` when the rules are applied: the channels of a new
    /// selector and what `reset` leaves.
    pubsub_all: bool,
}

impl User {
    /// A user as ACL SETUSER creates it: off, no password, no command or key, and every channel
    /// or none as `acl-pubsub-default` says (`pubsub_all`: `allchannels`).
    pub fn new(catalog: &Catalog, pubsub_all: bool) -> User {
        User {
            enabled: false,
            nopass: false,
            sanitize_payload: None,
            passwords: Vec::new(),
            root: Selector::new(catalog, pubsub_all),
            selectors: Vec::new(),
            pubsub_all,
        }
    }

    /// `acl-pubsub-default` now (`reset` and new selectors follow it, as in Redis).
    pub fn set_pubsub_default(&mut self, all: bool) {
        self.pubsub_all = all;
    }

    /// The default user as Redis starts it: `on nopass ~* &* +@all`.
    pub fn default_user(catalog: &Catalog) -> User {
        let mut u = User::new(catalog, false);
        for rule in ["on", "nopass", "~*", "&*", "+@all"] {
            u.apply(catalog, rule.as_bytes()).expect("the default user's rules are valid");
        }
        u
    }

    /// Every command, key and channel: the dispatcher checks nothing for such a user.
    pub fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    /// The rights given outside parentheses (ACL GETUSER's top-level `commands`, `keys`,
    /// `channels`).
    pub fn root(&self) -> &Selector {
        &self.root
    }

    /// The `(...)` selectors (ACL GETUSER's `selectors`).
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// True if `password` is one of the user's (or the user is `nopass`).
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hash = super::sha256_hex(password);
        // Compare every hash in full: the time taken says nothing of how close a guess was.
        self.passwords.iter().fold(false, |ok, p| ok | constant_time_eq(p.as_bytes(), hash.as_bytes()))
    }

    /// Applies one rule, as Redis's `ACLSetUser`: a flag, a password, `(...)` (a new selector),
    /// `clearselectors`, `reset`, or a rule about commands, keys or channels, which changes the
    /// root selector. The empty rule does nothing.
    pub fn apply(&mut self, catalog: &Catalog, rule: &[u8]) -> Result<(), RuleError> {
        if rule.is_empty() {
            return Ok(());
        }
        let lower = String::from_utf8_lossy(rule).to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.sanitize_payload = Some(false),
            "sanitize-payload" => self.sanitize_payload = Some(true),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply(catalog, r.as_bytes())?;
                }
                if self.pubsub_all {
                    self.apply(catalog, b"allchannels")?;
                }
                for r in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                    self.apply(catalog, r.as_bytes())?;
                }
            }
            _ => match rule[0] {
                b'>' | b'#' | b'<' | b'!' => self.apply_password(rule)?,
                b'(' if rule.ends_with(b")") => {
                    self.selectors.push(Selector::parse(catalog, rule, self.pubsub_all)?);
                }
                _ => self.root.apply(catalog, rule)?,
            },
        }
        Ok(())
    }

    /// `>password`, `#hash`, `<password`, `!hash`.
    fn apply_password(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let rest = &rule[1..];
        let hash = match rule[0] {
            b'>' | b'<' => super::sha256_hex(rest),
            _ => {
                let hash = std::str::from_utf8(rest).map_err(|_| RuleError::BadHash)?;
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(RuleError::BadHash);
                }
                hash.to_string()
            }
        };
        if matches!(rule[0], b'>' | b'#') {
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else {
            let before = self.passwords.len();
            self.passwords.retain(|p| *p != hash);
            if self.passwords.len() == before {
                return Err(RuleError::NoSuchPassword);
            }
        }
        Ok(())
    }

    /// The flags (ACL GETUSER's `flags`), in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize_payload {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The user's rules in config-file form (ACL LIST, ACL SAVE), after `user <name> `: flags,
    /// passwords, the root selector, then each selector in parentheses.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().iter().map(|f| f.to_string()).collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.push(self.root.describe());
        parts.extend(self.selectors.iter().map(|s| format!("({})", s.describe())));
        parts.join(" ")
    }

    /// Checks a request (`args`, its command's catalog `id` and the position of its first
    /// argument after the (sub)command name, its key argument positions) as Redis 7.0's
    /// `ACLCheckAllUserCommandPerm`: allowed if one selector, the root first, allows the command
    /// and all its keys and channels; if none does, the denial reported is a channel's over a
    /// key's over the command's, and of two alike the later argument's.
    pub fn check(
        &self,
        catalog: &Catalog,
        command: (usize, usize),
        no_auth: bool,
        args: &[Bytes],
        keys: &[usize],
    ) -> Result<(), Denied> {
        let mut reported = Denied::Command;
        for selector in std::iter::once(&self.root).chain(&self.selectors) {
            match selector.check(catalog, command, no_auth, args, keys) {
                Ok(()) => return Ok(()),
                Err(denied) if denied.weight() > reported.weight() => reported = denied,
                Err(_) => {}
            }
        }
        Err(reported)
    }

    /// True if every channel and pattern `subscriptions` lists is still allowed by some
    /// selector (after a change of rules, a client subscribed to one that is not is
    /// disconnected, as Redis's `ACLKillPubsubClientsIfNeeded`).
    pub fn allows_subscriptions<'a>(
        &self,
        channels: impl IntoIterator<Item = &'a Bytes>,
        patterns: impl IntoIterator<Item = &'a Bytes>,
    ) -> bool {
        let selectors = || std::iter::once(&self.root).chain(&self.selectors);
        selectors().any(|s| s.all_channels)
            || (channels.into_iter().all(|c| selectors().any(|s| s.channel_allowed(c, false)))
                && patterns.into_iter().all(|p| selectors().any(|s| s.channel_allowed(p, true))))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::super::catalog::catalog;
    use super::*;

    fn user(rules: &[&str]) -> User {
        let c = catalog();
        let mut u = User::new(c, false);
        for r in rules {
            u.apply(c, r.as_bytes()).unwrap_or_else(|e| panic!("{r}: {e}"));
        }
        u
    }

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    fn check(u: &User, a: &[&str], keys: &[usize]) -> Result<(), Denied> {
        let c = catalog();
        let a = args(a);
        let id = c.resolve(&String::from_utf8_lossy(&a[0]).to_ascii_lowercase(), &a).unwrap();
        u.check(c, id, false, &a, keys)
    }

    #[test]
    fn commands_categories_and_subcommands() {
        let u = user(&["on", "~*", "-@all", "+@list", "-lpush", "+get", "+config|get", "+select|0"]);
        assert_eq!(check(&u, &["lpop", "k"], &[1]), Ok(()));
        assert_eq!(check(&u, &["lpush", "k", "v"], &[1]), Err(Denied::Command));
        assert_eq!(check(&u, &["config", "get", "x"], &[]), Ok(()));
        assert_eq!(check(&u, &["config", "set", "x", "y"], &[]), Err(Denied::Command));
        assert_eq!(check(&u, &["select", "0"], &[]), Ok(()));
        assert_eq!(check(&u, &["select", "1"], &[]), Err(Denied::Command));
        assert_eq!(check(&u, &["set", "k", "v"], &[1]), Err(Denied::Command));
        assert_eq!(u.root().describe_commands(), "-@all +@list -lpush +get +config|get +select|0");
        let all = user(&["+@all", "-config|set", "-@dangerous"]);
        assert_eq!(check(&all, &["config", "get", "x"], &[]), Err(Denied::Command));
        assert_eq!(check(&all, &["get", "k"], &[]), Ok(()));
        assert_eq!(all.root().describe_commands(), "+@all -config|set -@dangerous");
    }

    #[test]
    fn keys_with_read_and_write_patterns() {
        let u = user(&["+@all", "~foo*", "%R~r*", "%W~w*"]);
        assert_eq!(check(&u, &["get", "foo1"], &[1]), Ok(()));
        assert_eq!(check(&u, &["get", "x"], &[1]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["get", "r1"], &[1]), Ok(()));
        assert_eq!(check(&u, &["set", "r1", "v"], &[1]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["del", "w1"], &[1]), Ok(()));
        assert_eq!(check(&u, &["get", "w1"], &[1]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["lmove", "foo", "w1", "left", "left"], &[1, 2]), Ok(()));
        assert_eq!(check(&u, &["lmove", "w1", "foo", "left", "left"], &[1, 2]), Err(Denied::Key(1)));
        assert_eq!(u.root().describe_keys(), "~foo* %R~r* %W~w*");
    }

    #[test]
    fn channels_and_errors() {
        let u = user(&["+@all", "&ch*"]);
        assert_eq!(check(&u, &["publish", "ch1", "m"], &[]), Ok(()));
        assert_eq!(check(&u, &["publish", "x", "m"], &[]), Err(Denied::Channel(1)));
        assert_eq!(check(&u, &["psubscribe", "ch*"], &[]), Ok(()));
        assert_eq!(check(&u, &["psubscribe", "ch"], &[]), Err(Denied::Channel(1)));
        let c = catalog();
        let mut u = User::new(c, false);
        assert_eq!(u.apply(c, b"+nosuch"), Err(RuleError::Unknown));
        assert_eq!(u.apply(c, b"+@nosuch"), Err(RuleError::Unknown));
        assert_eq!(u.apply(c, b"xyz"), Err(RuleError::Syntax));
        assert_eq!(u.apply(c, b"+config|"), Err(RuleError::Syntax));
        assert_eq!(u.apply(c, b"+config|zzz"), Err(RuleError::Unknown));
        assert_eq!(u.apply(c, b"#abc"), Err(RuleError::BadHash));
        assert_eq!(u.apply(c, b"<nope"), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(c, b"~a b"), Err(RuleError::Syntax));
        assert_eq!(u.apply(c, b"!abc"), Err(RuleError::BadHash));
        assert_eq!(u.apply(c, b""), Ok(()));
        u.apply(c, b"allkeys").unwrap();
        assert_eq!(u.apply(c, b"~x"), Err(RuleError::AfterAllKeys));
        u.apply(c, b">pw").unwrap();
        assert!(u.password_ok(b"pw") && !u.password_ok(b"px"));
        assert_eq!(
            u.describe(),
            "off #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* resetchannels -@all"
        );
    }

    #[test]
    fn a_request_is_allowed_when_one_selector_allows_all_of_it() {
        let u = user(&["on", "~a*", "+get", "(~b* +set)", "(%R~c* &ch* +@read +publish)"]);
        assert_eq!(check(&u, &["get", "a1"], &[1]), Ok(()));
        assert_eq!(check(&u, &["set", "b1", "v"], &[1]), Ok(()));
        assert_eq!(check(&u, &["get", "c1"], &[1]), Ok(()));
        assert_eq!(check(&u, &["publish", "ch1", "m"], &[]), Ok(()));
        // Rights do not mix across selectors: GET may read `a*` (root) and `c*`, never `b*`.
        assert_eq!(check(&u, &["get", "b1"], &[1]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["set", "a1", "v"], &[1]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["del", "a1"], &[1]), Err(Denied::Command));
        // The denial reported: a channel's over a key's over the command's, the later key's.
        assert_eq!(check(&u, &["publish", "x", "m"], &[]), Err(Denied::Channel(1)));
        assert_eq!(check(&u, &["mget", "c1", "zz"], &[1, 2]), Err(Denied::Key(2)));
        assert_eq!(u.root().describe(), "~a* resetchannels -@all +get");
        assert_eq!(u.selectors().len(), 2);
        assert_eq!(u.selectors()[1].describe(), "%R~c* resetchannels &ch* -@all +@read +publish");
        assert_eq!(
            u.describe(),
            "on ~a* resetchannels -@all +get (~b* resetchannels -@all +set) (%R~c* resetchannels &ch* -@all +@read \
             +publish)"
        );
        let channels = [Bytes::from_static(b"ch1")];
        assert!(u.allows_subscriptions(&channels, &[]));
        let mut cleared = u.clone();
        cleared.apply(catalog(), b"clearselectors").unwrap();
        assert!(cleared.selectors().is_empty() && !cleared.allows_subscriptions(&channels, &[]));
        let mut reset = u.clone();
        reset.apply(catalog(), b"reset").unwrap();
        assert!(reset.selectors().is_empty());
    }

    #[test]
    fn selector_rules() {
        let c = catalog();
        let mut u = User::new(c, false);
        assert_eq!(u.apply(c, b"(on)"), Err(RuleError::Syntax));
        assert_eq!(u.apply(c, b"(+nosuch)"), Err(RuleError::Unknown));
        assert_eq!(u.apply(c, b"(~x \"a b\")"), Err(RuleError::Syntax));
        assert!(u.selectors().is_empty());
        // Unbalanced quotes inside give an empty selector, as in Redis.
        u.apply(c, b"(+get\"x)").unwrap();
        u.apply(c, b"()").unwrap();
        u.apply(c, b"(  %RW~k  allchannels  )").unwrap();
        let described: Vec<String> = u.selectors().iter().map(Selector::describe).collect();
        assert_eq!(described, ["resetchannels -@all", "resetchannels -@all", "~k &* -@all"]);
        // A new selector's channels follow acl-pubsub-default.
        let mut all = User::new(c, true);
        all.apply(c, b"(+get)").unwrap();
        assert_eq!(all.selectors()[0].describe(), "&* -@all +get");
    }
}
