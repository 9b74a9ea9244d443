//! DEBUG DIGEST / DIGEST-VALUE / SLEEP / PANIC / HELP.
//!
//! DIGEST fingerprints the whole dataset so that two nodes (or a node and a test's expectation)
//! can be compared: equal data gives equal digests whatever the insertion order, the shard layout
//! or the node. Each key's digest is a SHA-1 of a canonical encoding of its database, name, type,
//! value and whether it expires; the dataset digest XORs them, so the order keys are visited in
//! does not matter. Set members and hash fields are combined the same way (XOR of their own
//! digests); lists and sorted sets are encoded in order. An empty dataset digests to 40 zeros.
//!
//! MESHKV.DIGEST (in `replication.rs`) builds on the same per-key digest, adding what DEBUG DIGEST
//! leaves out and replication must make equal too: the expiry time itself and the write's stamp.

use std::time::Duration;

use bytes::Bytes;
use meshkv_storage::{Entry, Value};

use super::super::args::{float, is};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::{help, sub_arity, unknown_sub};
use crate::error::{CmdError, CmdResult};

pub(in crate::commands) static DEBUG_COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "debug",
    arity: -2,
    flags: ADMIN | NOSCRIPT | LOADING | STALE,
    keys: Keys::Dynamic(debug_keys),
    group: "server",
    summary: "A container for debugging commands.",
    since: "1.0.0",
    handler: debug,
}];

/// What a DEBUG subcommand locks: everything for DIGEST (a cut of every database), the named keys
/// for DIGEST-VALUE, nothing for the others.
fn debug_keys(args: &[Bytes]) -> Keys {
    match args.get(1) {
        Some(sub) if is(sub, "DIGEST") => Keys::All,
        Some(sub) if is(sub, "DIGEST-VALUE") => Keys::Range { first: 2, last: -1, step: 1 },
        _ => Keys::None,
    }
}

fn debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "DIGEST") && args.len() == 2 {
        let digest = dataset_digest(ctx, key_digest);
        ctx.out.simple(&hex(&digest));
    } else if is(sub, "DIGEST-VALUE") {
        let digests: Vec<[u8; 20]> = args[2..]
            .iter()
            .map(|name| {
                let key = ctx.key(name);
                ctx.txn.peek(ctx.db(), &key).map_or([0; 20], |e| value_digest(&e.value))
            })
            .collect();
        ctx.out.array(digests.len());
        for d in digests {
            ctx.out.simple(&hex(&d));
        }
    } else if is(sub, "SLEEP") && args.len() == 3 {
        sleep(ctx, &args[2])?;
    } else if is(sub, "PANIC") && args.len() == 2 {
        // A handler that fails in the middle of its work, on purpose: what any bug would do. The
        // dispatcher's rule (see `commands::run`) decides what it costs.
        panic!("DEBUG PANIC");
    } else if is(sub, "HELP") && args.len() == 2 {
        help(
            ctx,
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "PANIC",
                "    Fail in the middle of a command, as a bug would: the client gets an error and is closed;",
                "    inside a transaction that already wrote, the node stops (see the README's Limits).",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed. (meshkv: only this client waits)",
            ],
        );
    } else if ["DIGEST", "SLEEP", "HELP", "PANIC"].iter().any(|s| is(sub, s)) {
        return Err(sub_arity("debug", sub));
    } else {
        return Err(unknown_sub("DEBUG", sub));
    }
    Ok(())
}

/// DEBUG SLEEP: in Redis it stalls the whole server; here only this client waits (a worker must
/// never sleep), by blocking on no keys with a timeout whose reply is `+OK`.
fn sleep(ctx: &mut Ctx, arg: &[u8]) -> CmdResult {
    let secs = float(arg)?;
    if secs <= 0.0 {
        ctx.out.ok();
        return Ok(());
    }
    let wait = Duration::try_from_secs_f64(secs).map_err(|_| CmdError::NotFloat)?;
    ctx.block(Vec::new(), Some(wait), |out| out.ok());
    Ok(())
}

pub(super) fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn xor_into(acc: &mut [u8; 20], d: &[u8; 20]) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// A key's digest from its database, name and entry.
pub(super) type KeyDigest = fn(usize, &[u8], &Entry) -> [u8; 20];

/// XOR of every key's `digest` in every database (the command must lock every key: `Keys::All`).
pub(super) fn dataset_digest(ctx: &mut Ctx, digest: KeyDigest) -> [u8; 20] {
    let mut acc = [0u8; 20];
    for db in 0..ctx.keyspace().databases() {
        let cut = ctx.txn.cut(db);
        for (key, entry) in cut.iter() {
            xor_into(&mut acc, &digest(db, key, entry));
        }
    }
    acc
}

/// Appends a length-prefixed byte string, so that concatenations cannot collide.
fn put(h: &mut Sha1, data: &[u8]) {
    h.update(&(data.len() as u64).to_le_bytes());
    h.update(data);
}

fn key_digest(db: usize, key: &[u8], entry: &Entry) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(&(db as u64).to_le_bytes());
    put(&mut h, key);
    h.update(&value_digest(&entry.value));
    h.update(&[entry.expire_at().is_some() as u8]);
    h.finish()
}

/// MESHKV.DIGEST's digest of a key: DEBUG DIGEST's, plus the expiry time (not only whether there
/// is one) and the stamp of the write the entry came from.
pub(super) fn stamped_key_digest(db: usize, key: &[u8], entry: &Entry) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(&key_digest(db, key, entry));
    h.update(&entry.expire_at().unwrap_or(0).to_le_bytes());
    h.update(&entry.stamp.hlc.to_le_bytes());
    h.update(&entry.stamp.node.to_le_bytes());
    h.finish()
}

/// The digest of a value alone (DEBUG DIGEST-VALUE), type included.
fn value_digest(value: &Value) -> [u8; 20] {
    let mut h = Sha1::new();
    match value {
        Value::Str(_) | Value::Small(_) | Value::Counter(_) => {
            h.update(b"s");
            put(&mut h, value.as_str().expect("a string"));
        }
        Value::List(l) => {
            h.update(b"l");
            h.update(&(l.len() as u64).to_le_bytes());
            l.iter().for_each(|item| put(&mut h, item));
        }
        Value::Set(_) | Value::DotSet(_) => {
            let s = value.as_set().expect("a set");
            h.update(b"S");
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(&unordered(s.iter().map(|m| [&m[..]])));
        }
        Value::Hash(_) | Value::DotHash(_) => {
            let m = value.as_hash().expect("a hash");
            h.update(b"h");
            h.update(&(m.len() as u64).to_le_bytes());
            h.update(&unordered(m.iter().map(|(f, v)| [f, v])));
        }
        Value::ZSet(_) | Value::DotZSet(_) => {
            let z = value.as_zset().expect("a sorted set");
            h.update(b"z");
            h.update(&(z.len() as u64).to_le_bytes());
            for (member, score) in z.iter() {
                put(&mut h, member);
                let score = if score == 0.0 { 0.0 } else { score }; // -0 and 0 are the same score
                h.update(&score.to_bits().to_le_bytes());
            }
        }
    }
    h.finish()
}

/// Order-independent digest of a collection: XOR of each element's own digest.
fn unordered<'a, const N: usize>(items: impl Iterator<Item = [&'a [u8]; N]>) -> [u8; 20] {
    let mut acc = [0u8; 20];
    for parts in items {
        let mut h = Sha1::new();
        parts.iter().for_each(|p| put(&mut h, p));
        xor_into(&mut acc, &h.finish());
    }
    acc
}

/// SHA-1 (FIPS 180-4), written out because the digest must be portable and stable across builds
/// and nodes; it is a fingerprint here, not a security measure.
struct Sha1 {
    state: [u32; 5],
    block: [u8; 64],
    filled: usize,
    length: u64,
}

impl Sha1 {
    fn new() -> Sha1 {
        Sha1 {
            state: [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0],
            block: [0; 64],
            filled: 0,
            length: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.length += data.len() as u64;
        while !data.is_empty() {
            let take = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled == 64 {
                self.compress();
                self.filled = 0;
            }
        }
    }

    fn finish(mut self) -> [u8; 20] {
        let bits = self.length.wrapping_mul(8);
        self.update(&[0x80]);
        while self.filled != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 20];
        for (chunk, word) in out.chunks_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    fn compress(&mut self) {
        let mut w = [0u32; 80];
        for (i, chunk) in self.block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = self.state;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1_hex(data: &[u8]) -> String {
        let mut h = Sha1::new();
        h.update(data);
        hex(&h.finish())
    }

    #[test]
    fn sha1_known_answers() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(sha1_hex(long), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
        assert_eq!(sha1_hex(&vec![b'a'; 1_000_000]), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }
}
