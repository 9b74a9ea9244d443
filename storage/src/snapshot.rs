//! Snapshots: a consistent cut of every database written to one file, and read back at start.
//!
//! Taking the cut costs an `Arc` clone per shard (see [`crate::cut`]), so writers go on at once and
//! nothing is forked: memory grows only by the shard tables that writers copy while the snapshot
//! is being written. The file is written to a temporary name, synced, and renamed over the old
//! one, so a crash leaves either the old snapshot or the new one, never half of one.
//!
//! ```text
//! "MESHKVSNAP" u8 version (2; version 1 files, which have no kind 2 or 3, still load)
//! records:  u8 kind, u16 db, u32 key length, key, u32 record length, record
//!             kind 1: a key; the record is its entry (see codec)
//!             kind 2: a tombstone (replication); the record is its stamp: u64 hlc, u64 node
//!             kind 3: a database's last flush (replication); no key; the record is its stamp
//! end:      u8 0xff, u64 number of records
//! trailer:  u32 CRC-32 of every byte before it
//! ```
//!
//! Loading reads the file twice: once to check everything (structure, database numbers, that every
//! record decodes, record count, checksum), and only then to apply its records. A corrupt or
//! truncated file is refused before a single key is loaded. The keyspace's clock is then advanced
//! past the newest stamp in the file (of a key, expired or not, a tombstone or a flush floor): the
//! file may hold stamps of a peer whose clock runs ahead of ours, and a write after the restart
//! must still be newer than all of them, or peers would drop it as stale while it stays here.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use thiserror::Error;

use crate::codec::{decode_entry, encode_entry, CodecError};
use crate::keyspace::{Keyspace, KeyspaceCut};
use crate::stamp::Stamp;

const MAGIC: &[u8; 10] = b"MESHKVSNAP";
const VERSION: u8 = 2;
const RECORD: u8 = 1;
const TOMBSTONE: u8 = 2;
const FLOOR: u8 = 3;
const END: u8 = 0xff;
/// No key or record in a snapshot may claim more than this (Redis's largest bulk string).
const MAX_LEN: u32 = 512 * 1024 * 1024;

/// Why a snapshot could not be written or read.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not a meshkv snapshot at all.
    #[error("{0}: not a meshkv snapshot (bad magic; a Redis RDB file?)")]
    NotASnapshot(PathBuf),
    /// A snapshot of a version this build cannot read.
    #[error("{path}: snapshot version {version} is not supported")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version byte.
        version: u8,
    },
    /// Truncated, or its bytes do not match its checksum.
    #[error("{path}: snapshot is corrupt or truncated ({why})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was found wrong.
        why: String,
    },
    /// A record failed to decode (after the checksum passed: a bug or a newer format).
    #[error("{path}: bad record: {source}")]
    Record {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        source: CodecError,
    },
    /// The snapshot holds a database number this server does not have.
    #[error("{path}: snapshot has keys in database {db}, but only {databases} databases are configured")]
    Database {
        /// The file.
        path: PathBuf,
        /// The database in the file.
        db: usize,
        /// How many the server has.
        databases: usize,
    },
}

/// What a save or a load did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Keys written or loaded.
    pub keys: u64,
    /// Expired keys skipped.
    pub expired: u64,
    /// Size of the file.
    pub bytes: u64,
}

/// Writes `cut` (every database, tombstones and flush floors) to `path`, atomically: through
/// `path` + ".tmp", synced, then renamed over `path`, then the directory synced.
pub fn write_snapshot(cut: &KeyspaceCut, path: &Path) -> Result<SnapshotStats, SnapshotError> {
    let tmp = path.with_extension("tmp");
    let io = |p: &Path| {
        let path = p.to_path_buf();
        move |source| SnapshotError::Io { path, source }
    };
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let mut out = CrcWriter { inner: BufWriter::with_capacity(1 << 20, file), crc: crc32fast::Hasher::new(), bytes: 0 };
    out.write_all(MAGIC).map_err(io(&tmp))?;
    out.write_all(&[VERSION]).map_err(io(&tmp))?;
    let mut stats = SnapshotStats::default();
    let mut records = 0u64;
    let mut record = Vec::with_capacity(256);
    let mut put = |out: &mut CrcWriter<_>, kind: u8, db: usize, key: &[u8], record: &[u8]| -> std::io::Result<()> {
        let db = u16::try_from(db).expect("databases fit in u16");
        out.write_all(&[kind])?;
        out.write_all(&db.to_le_bytes())?;
        out.write_all(&(key.len() as u32).to_le_bytes())?;
        out.write_all(key)?;
        out.write_all(&(record.len() as u32).to_le_bytes())?;
        out.write_all(record)?;
        records += 1;
        Ok(())
    };
    for (db, keys) in &cut.dbs {
        for (key, entry) in keys.iter() {
            record.clear();
            encode_entry(entry, &mut record);
            put(&mut out, RECORD, *db, key, &record).map_err(io(&tmp))?;
            stats.keys += 1;
        }
    }
    for (db, key, stamp) in &cut.tombstones {
        put(&mut out, TOMBSTONE, *db, key, &stamp_bytes(*stamp)).map_err(io(&tmp))?;
    }
    for (db, stamp) in &cut.floors {
        put(&mut out, FLOOR, *db, &[], &stamp_bytes(*stamp)).map_err(io(&tmp))?;
    }
    out.write_all(&[END]).map_err(io(&tmp))?;
    out.write_all(&records.to_le_bytes()).map_err(io(&tmp))?;
    let crc = out.crc.clone().finalize();
    let mut inner = out.inner;
    inner.write_all(&crc.to_le_bytes()).map_err(io(&tmp))?;
    stats.bytes = out.bytes + 4;
    let file = inner.into_inner().map_err(|e| SnapshotError::Io { path: tmp.clone(), source: e.into_error() })?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(stats)
}

/// Checks the snapshot at `path` and, only if it is whole, loads it into `keyspace`. Keys already
/// expired at `now_ms` are skipped. The keyspace's clock is advanced past every stamp in the file
/// (see the module's documentation). Returns None if there is no file.
pub fn load_snapshot(path: &Path, keyspace: &Keyspace, now_ms: u64) -> Result<Option<SnapshotStats>, SnapshotError> {
    match File::open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SnapshotError::Io { path: path.to_path_buf(), source }),
    }
    let databases = keyspace.databases();
    // First pass: structure, database numbers, every record decodes, checksum. Nothing is loaded.
    read_records(path, |kind, db, _, record| {
        if db >= databases {
            return Err(SnapshotError::Database { path: path.to_path_buf(), db, databases });
        }
        match kind {
            RECORD => {
                decode_entry(&record, now_ms)
                    .map_err(|source| SnapshotError::Record { path: path.to_path_buf(), source })?;
            }
            _ => {
                parse_stamp(&record).ok_or_else(|| SnapshotError::Corrupt {
                    path: path.to_path_buf(),
                    why: "bad tombstone or flush stamp".into(),
                })?;
            }
        }
        Ok(())
    })?;
    // Second pass: load.
    let mut stats = SnapshotStats::default();
    let mut newest = Stamp::default();
    stats.bytes = read_records(path, |kind, db, key, record| {
        match kind {
            RECORD => {
                let entry = decode_entry(&record, now_ms)
                    .map_err(|source| SnapshotError::Record { path: path.to_path_buf(), source })?;
                // An expired key counts too: peers may still hold it, or its tombstone.
                newest = newest.max(entry.stamp);
                if entry.is_expired(now_ms) {
                    stats.expired += 1;
                } else {
                    keyspace.restore(db, keyspace.key(key), entry);
                    stats.keys += 1;
                }
            }
            TOMBSTONE => {
                let stamp = parse_stamp(&record).unwrap_or_default();
                newest = newest.max(stamp);
                keyspace.restore_tombstone(db, keyspace.key(key), stamp, now_ms);
            }
            _ => {
                let stamp = parse_stamp(&record).unwrap_or_default();
                newest = newest.max(stamp);
                keyspace.raise_floor(db, stamp);
            }
        }
        Ok(())
    })?;
    keyspace.witness(newest);
    Ok(Some(stats))
}

fn stamp_bytes(stamp: Stamp) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&stamp.hlc.to_le_bytes());
    out[8..].copy_from_slice(&stamp.node.to_le_bytes());
    out
}

fn parse_stamp(record: &[u8]) -> Option<Stamp> {
    let bytes: &[u8; 16] = record.try_into().ok()?;
    let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    Some(Stamp { hlc: word(0), node: word(8) })
}

/// Streams the records of the snapshot at `path` into `visit` (kind, database, key, record), then
/// checks the end marker, the record count and the checksum. Returns the file's size.
fn read_records(
    path: &Path,
    mut visit: impl FnMut(u8, usize, Bytes, Bytes) -> Result<(), SnapshotError>,
) -> Result<u64, SnapshotError> {
    let corrupt = |why: &str| SnapshotError::Corrupt { path: path.to_path_buf(), why: why.to_string() };
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::UnexpectedEof => corrupt("truncated"),
        _ => SnapshotError::Io { path: path.to_path_buf(), source },
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut input = CrcReader { inner: BufReader::with_capacity(1 << 20, file), crc: crc32fast::Hasher::new() };
    let mut head = [0u8; 11];
    if let Err(e) = input.read_exact(&mut head) {
        let partial_magic = head[..(size as usize).min(10)] == MAGIC[..(size as usize).min(10)];
        return Err(if partial_magic { io(e) } else { SnapshotError::NotASnapshot(path.to_path_buf()) });
    }
    if &head[..10] != MAGIC {
        return Err(SnapshotError::NotASnapshot(path.to_path_buf()));
    }
    let version = head[10];
    if !(1..=VERSION).contains(&version) {
        return Err(SnapshotError::Version { path: path.to_path_buf(), version });
    }
    let mut records = 0u64;
    let mut deferred = None;
    loop {
        let mut kind = [0u8; 1];
        input.read_exact(&mut kind).map_err(io)?;
        match kind[0] {
            RECORD => {}
            TOMBSTONE | FLOOR if version >= 2 => {}
            END => break,
            _ => return Err(corrupt("unknown record kind")),
        }
        let mut db = [0u8; 2];
        input.read_exact(&mut db).map_err(io)?;
        let key = read_chunk(&mut input).map_err(io)?.ok_or_else(|| corrupt("key length out of range"))?;
        let record = read_chunk(&mut input).map_err(io)?.ok_or_else(|| corrupt("record length out of range"))?;
        // A record's own error waits for the checksum: damage reads as damage, not as whatever
        // the damaged record happened to say.
        if deferred.is_none() {
            deferred = visit(kind[0], u16::from_le_bytes(db) as usize, key, record).err();
        }
        records += 1;
    }
    let mut count = [0u8; 8];
    input.read_exact(&mut count).map_err(io)?;
    let crc = input.crc.clone().finalize();
    let mut trailer = [0u8; 4];
    input.inner.read_exact(&mut trailer).map_err(io)?;
    if u32::from_le_bytes(trailer) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    if u64::from_le_bytes(count) != records {
        return Err(corrupt("record count mismatch"));
    }
    let mut rest = [0u8; 1];
    if input.inner.read(&mut rest).map_err(io)? != 0 {
        return Err(corrupt("bytes after the trailer"));
    }
    deferred.map_or(Ok(size), Err)
}

/// Reads a `u32` length and that many bytes; None if the length is beyond any legal one.
fn read_chunk(input: &mut impl Read) -> std::io::Result<Option<Bytes>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len);
    if len > MAX_LEN {
        return Ok(None);
    }
    // Read in steps, so a corrupt length near MAX_LEN in a small file fails at end of file
    // instead of allocating half a gigabyte first.
    let mut buf = Vec::with_capacity((len as usize).min(1 << 20));
    input.take(u64::from(len)).read_to_end(&mut buf)?;
    if buf.len() != len as usize {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(Bytes::from(buf)))
}

/// A reader that checksums what passes through it.
struct CrcReader<R: Read> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that checksums and counts what passes through it.
struct CrcWriter<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
