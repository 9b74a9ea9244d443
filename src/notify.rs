//! Keyspace notifications (`notify-keyspace-events`), as Redis 7.0 sends them.
//!
//! A command that changes a key announces it with an event name (`set`, `lpush`, `del`,
//! `expire`...) in a class (`g` generic, `$` strings, `l` lists, ...). When the class is enabled,
//! the event is PUBLISHed as a normal pub/sub message: on `__keyspace@<db>__:<key>` with the
//! event as payload (flag `K`), and on `__keyevent@<db>__:<event>` with the key as payload (flag
//! `E`). Expiry (`x`, `expired`), eviction (`e`, `evicted`), key creation (`n`, `new`) and read
//! misses (`m`, `keymiss`) are announced by the keyspace itself through [`KeyEvents`].
//!
//! The same hook reports writes and flushes to client-side caching ([`crate::tracking`]) while a
//! client tracks keys.
//!
//! The enabled classes live in one atomic, so a command pays one relaxed load when they are off
//! (the default).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};

use bytes::{BufMut, Bytes, BytesMut};
use meshkv_storage::{Key, KeyEvent, KeyEvents};

use crate::log::Logger;
use crate::output_limit::OutputLimits;
use crate::pubsub::PubSub;
use crate::server::Server;

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: commands on any type (DEL, EXPIRE, RENAME...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: a key expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted for `maxmemory`.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands (meshkv has no streams: accepted, never sent).
pub const STREAM: u32 = 1 << 10;
/// `m`: a read found no key (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events (meshkv has no modules: accepted, never sent).
pub const MODULE: u32 = 1 << 13;
/// `n`: a key was created (not part of `A`).
pub const NEW: u32 = 1 << 14;
/// `A`: every class but `m` and `n`.
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The flag letters, in the order Redis prints them (after `A`, before `K`, `E`, `m`).
const CLASS_LETTERS: [(u32, char); 11] = [
    (GENERIC, 'g'),
    (STRING, '$'),
    (LIST, 'l'),
    (SET, 's'),
    (HASH, 'h'),
    (ZSET, 'z'),
    (EXPIRED, 'x'),
    (EVICTED, 'e'),
    (STREAM, 't'),
    (MODULE, 'd'),
    (NEW, 'n'),
];

/// Parses `notify-keyspace-events` ("KEA", "Elg$", "" for none); None for an unknown letter.
pub fn parse_flags(text: &str) -> Option<u32> {
    text.chars().try_fold(0, |flags, c| {
        let bit = match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            _ => CLASS_LETTERS.iter().find(|(_, l)| *l == c)?.0,
        };
        Some(flags | bit)
    })
}

/// The flags as Redis prints them back (`AKE`, `gKE`, `$lshzxeKE`).
pub fn flags_to_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        s.extend(CLASS_LETTERS.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, l)| l));
    }
    for (bit, l) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(l);
        }
    }
    s
}

/// The classes of `notify-keyspace-events` enabled now, shared by the server (commands' events)
/// and the keyspace's hook (expiry, eviction, creation, misses).
#[derive(Clone, Default)]
pub struct Notifier {
    flags: Arc<AtomicU32>,
}

impl Notifier {
    /// Enables the classes of `notify-keyspace-events`.
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// True if events of `class` are published (the cheap check before building one).
    #[inline]
    pub fn enabled(&self, class: u32) -> bool {
        let flags = self.flags.load(Ordering::Relaxed);
        flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
    }

    /// Publishes `event` on `key` of database `db` on the channels enabled, through `pubsub`.
    #[cold]
    pub fn publish(&self, pubsub: &PubSub, limits: &OutputLimits, log: &Logger, event: &str, db: usize, key: &[u8]) {
        let flags = self.flags.load(Ordering::Relaxed);
        let mut db_text = itoa::Buffer::new();
        let db_text = db_text.format(db);
        let channel = |kind: &str, name: &[u8]| {
            let mut c = BytesMut::with_capacity(16 + db_text.len() + name.len());
            c.put_slice(b"__");
            c.put_slice(kind.as_bytes());
            c.put_u8(b'@');
            c.put_slice(db_text.as_bytes());
            c.put_slice(b"__:");
            c.put_slice(name);
            c.freeze()
        };
        if flags & KEYSPACE != 0 {
            let payload = Bytes::copy_from_slice(event.as_bytes());
            pubsub.publish(&channel("keyspace", key), &payload, limits, log);
        }
        if flags & KEYEVENT != 0 {
            let payload = Bytes::copy_from_slice(key);
            pubsub.publish(&channel("keyevent", event.as_bytes()), &payload, limits, log);
        }
    }
}

/// The keyspace's hook: what it reports by itself (expiry, eviction, creation, misses) is
/// published like a command's events.
pub struct KeyspaceHook {
    /// The same flags as the server's notifier.
    pub notifier: Notifier,
    /// The server, to publish through (weak: the keyspace lives inside it).
    pub server: Weak<Server>,
}

impl KeyEvents for KeyspaceHook {
    fn wants(&self, event: KeyEvent) -> bool {
        self.notifier.enabled(class_of(event))
    }

    fn key_event(&self, event: KeyEvent, db: usize, key: &Key) {
        let name = match event {
            KeyEvent::Expired => "expired",
            KeyEvent::Evicted => "evicted",
            KeyEvent::New => "new",
            KeyEvent::Miss => "keymiss",
        };
        if let Some(server) = self.server.upgrade() {
            server.notify(class_of(event), name, db, key.bytes());
        }
    }

    fn key_written(&self, key: &Key, by_command: bool) {
        if let Some(server) = self.server.upgrade() {
            crate::tracking::written(&server.tracking, key.bytes(), by_command, &server.delivery());
        }
    }

    fn flushed(&self) {
        if let Some(server) = self.server.upgrade() {
            crate::tracking::flushed(&server.tracking, &server.delivery());
        }
    }
}

fn class_of(event: KeyEvent) -> u32 {
    match event {
        KeyEvent::Expired => EXPIRED,
        KeyEvent::Evicted => EVICTED,
        KeyEvent::New => NEW,
        KeyEvent::Miss => KEY_MISS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trips as redis-server 7.0.15 prints them (CONFIG SET then CONFIG GET).
    #[test]
    fn flags_print_as_redis() {
        let round = |s: &str| flags_to_string(parse_flags(s).unwrap());
        assert_eq!(round("gKE"), "gKE");
        assert_eq!(round("$lshzxeKE"), "$lshzxeKE");
        assert_eq!(round("KA"), "AK");
        assert_eq!(round("EA"), "AE");
        assert_eq!(round("KEAmn"), "AKEm");
        assert_eq!(round(""), "");
        assert_eq!(parse_flags("KEq"), None);
    }
}
