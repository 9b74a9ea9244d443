//! MONITOR: every executed command, as one line, to every client that asked for them.
//!
//! The dispatcher asks [`Monitors::active`] after each command; that is a single relaxed atomic
//! load, so the feature costs nothing measurable while nobody monitors. Only when someone does is
//! the line formatted (once) and sent to each monitor's inbox, which its connection task writes
//! out like a pub/sub message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;

use crate::client::Inbox;
use crate::log::Logger;
use crate::output_limit::OutputLimits;
use crate::pubsub::Message;

/// The clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    /// How many clients monitor; mirrors `inboxes.len()` for the lock-free check.
    count: AtomicUsize,
    inboxes: Mutex<Vec<(u64, Inbox)>>,
}

impl Monitors {
    /// True when at least one client monitors. One relaxed load: this is on every command's path.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Adds client `id`; false if it already monitors.
    pub fn add(&self, id: u64, inbox: Inbox) -> bool {
        let mut inboxes = self.inboxes.lock();
        if inboxes.iter().any(|(i, _)| *i == id) {
            return false;
        }
        inboxes.push((id, inbox));
        self.count.store(inboxes.len(), Ordering::Relaxed);
        true
    }

    /// Removes client `id` (RESET, disconnect); false if it did not monitor.
    pub fn remove(&self, id: u64) -> bool {
        let mut inboxes = self.inboxes.lock();
        let before = inboxes.len();
        inboxes.retain(|(i, _)| *i != id);
        self.count.store(inboxes.len(), Ordering::Relaxed);
        inboxes.len() != before
    }

    /// Sends the line for a command run by the client at `addr` on database `db`. A monitor it
    /// puts over its output limits is closed.
    pub fn feed(&self, db: usize, addr: &str, args: &[Bytes], limits: &OutputLimits, log: &Logger) {
        let line = format_line(unix_micros(), db, addr, args);
        for (_, inbox) in self.inboxes.lock().iter() {
            inbox.send(Message::Monitor(line.clone()), limits, log);
        }
    }
}

fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// The arguments Redis hides as "(redacted)": all of AUTH's, and the two values after HELLO's AUTH.
fn secrets(args: &[Bytes]) -> std::ops::Range<usize> {
    match args.first() {
        Some(name) if name.eq_ignore_ascii_case(b"auth") => 1..args.len(),
        Some(name) if name.eq_ignore_ascii_case(b"hello") => {
            args.iter().position(|a| a.eq_ignore_ascii_case(b"auth")).map_or(0..0, |at| at + 1..at + 3)
        }
        _ => 0..0,
    }
}

/// Formats a MONITOR line as Redis does: `+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"`,
/// arguments quoted and escaped like `sdscatrepr`, ending in CRLF.
pub fn format_line(micros: u64, db: usize, addr: &str, args: &[Bytes]) -> Bytes {
    let mut out = BytesMut::with_capacity(48 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.put_u8(b'+');
    out.put_slice(format!("{}.{:06} [{db} {addr}]", micros / 1_000_000, micros % 1_000_000).as_bytes());
    let secrets = secrets(args);
    for (i, arg) in args.iter().enumerate() {
        out.put_u8(b' ');
        if secrets.contains(&i) {
            out.put_slice(b"\"(redacted)\"");
        } else {
            escape_into(&mut out, arg);
        }
    }
    out.put_slice(b"\r\n");
    out.freeze()
}

/// Redis's `sdscatrepr`: a double-quoted string with `\n`, `\"`, `\\`, `\xHH` escapes.
pub fn escape_into(out: &mut BytesMut, s: &[u8]) {
    out.put_u8(b'"');
    for &c in s {
        match c {
            b'\\' => out.put_slice(b"\\\\"),
            b'"' => out.put_slice(b"\\\""),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            7 => out.put_slice(b"\\a"),
            8 => out.put_slice(b"\\b"),
            0x20..=0x7e => out.put_u8(c),
            _ => out.put_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&[u8]]) -> Vec<Bytes> {
        list.iter().map(|a| Bytes::copy_from_slice(a)).collect()
    }

    #[test]
    fn line_is_escaped_like_redis() {
        let line =
            format_line(1_700_000_000_000_042, 3, "127.0.0.1:5000", &args(&[b"SET", b"k\x01\"\\\n\t \xc3\xa9", b"v"]));
        assert_eq!(
            &line[..],
            &b"+1700000000.000042 [3 127.0.0.1:5000] \"SET\" \"k\\x01\\\"\\\\\\n\\t \\xc3\\xa9\" \"v\"\r\n"[..]
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let auth = format_line(1_000_000, 0, "a", &args(&[b"auth", b"user", b"pw"]));
        assert_eq!(&auth[..], b"+1.000000 [0 a] \"auth\" \"(redacted)\" \"(redacted)\"\r\n");
        let hello = format_line(0, 0, "a", &args(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]));
        assert_eq!(
            &hello[..],
            b"+0.000000 [0 a] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        );
    }

    #[test]
    fn registry_counts_monitors() {
        let m = Monitors::default();
        let handle = crate::client::ClientRegistry::default().register("a".into(), "b".into());
        let (tx, mut rx) = Inbox::new(handle);
        let log = Logger::open("", crate::config::LogLevel::Warning).unwrap();
        assert!(!m.active());
        assert!(m.add(7, tx.clone()));
        assert!(!m.add(7, tx));
        assert!(m.active());
        m.feed(0, "x", &args(&[b"PING"]), &OutputLimits::default(), &log);
        assert!(matches!(rx.try_recv(), Ok(Message::Monitor(line)) if line.ends_with(b"[0 x] \"PING\"\r\n")));
        assert!(m.remove(7));
        assert!(!m.remove(7));
        assert!(!m.active());
    }
}
