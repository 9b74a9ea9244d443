//! The registry of Redis 7 function libraries (FUNCTION LOAD, FCALL), shared by every worker.
//!
//! A library is its code; what it registers (its functions, their flags and descriptions) is
//! learnt by running that code once, on the worker that received FUNCTION LOAD, and kept here.
//! Each worker's Lua engine runs a library's code again, lazily, the first time one of its
//! functions is called there (see `engine::run_function`): a library's top level can only call
//! `redis.register_function` and `redis.log`, so running it again has no effect but the
//! registration. Function names are case-insensitive (as Redis's function dictionary); library
//! names are not.
//!
//! Libraries live in memory only: they are not in meshkv's snapshot (they do not survive a
//! restart) and not on the replication change feed (each master needs its own FUNCTION LOAD);
//! see the README's *Commands*.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// A function's flags (Redis 7's `flags` of `redis.register_function`).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FunctionFlags(pub u8);

impl FunctionFlags {
    pub const NO_WRITES: u8 = 1;
    pub const ALLOW_OOM: u8 = 2;
    pub const ALLOW_STALE: u8 = 4;
    pub const NO_CLUSTER: u8 = 8;
    pub const ALLOW_CROSS_SLOT_KEYS: u8 = 16;

    /// The flags by name, in the order Redis lists them.
    pub const NAMES: [(&'static str, u8); 5] = [
        ("no-writes", Self::NO_WRITES),
        ("allow-oom", Self::ALLOW_OOM),
        ("allow-stale", Self::ALLOW_STALE),
        ("no-cluster", Self::NO_CLUSTER),
        ("allow-cross-slot-keys", Self::ALLOW_CROSS_SLOT_KEYS),
    ];

    /// The flag with this name.
    pub fn parse(name: &[u8]) -> Option<u8> {
        Self::NAMES.iter().find(|(n, _)| n.as_bytes() == name).map(|(_, f)| *f)
    }

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.into_iter().filter(move |(_, f)| self.0 & f != 0).map(|(n, _)| n)
    }
}

/// One function a library registered.
#[derive(Clone, Debug)]
pub struct FunctionMeta {
    /// Its name as registered.
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: FunctionFlags,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// The code as FUNCTION LOAD received it (shebang line included).
    pub code: Bytes,
    pub functions: Vec<FunctionMeta>,
}

/// Why a set of libraries cannot join the registry, as Redis words it.
#[derive(Debug, PartialEq, Eq)]
pub enum JoinError {
    /// FUNCTION LOAD without REPLACE of a library that exists.
    LibraryExists(String),
    /// FUNCTION RESTORE APPEND of a library that exists (Redis words it without quotes).
    RestoredLibraryExists(String),
    /// A function name another library already registered.
    FunctionExists(String),
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::LibraryExists(name) => write!(f, "Library '{name}' already exists"),
            JoinError::RestoredLibraryExists(name) => write!(f, "Library {name} already exists"),
            JoinError::FunctionExists(name) => write!(f, "Function {name} already exists"),
        }
    }
}

#[derive(Default, Clone)]
struct Registry {
    /// Libraries by name.
    libraries: BTreeMap<String, Arc<Library>>,
    /// Lower-case function name -> its library's name.
    functions: BTreeMap<String, String>,
}

impl Registry {
    fn remove(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libraries.remove(name)?;
        for f in &lib.functions {
            self.functions.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// Adds `lib`, or says which name is taken (the registry is then left half-changed: callers
    /// work on a copy).
    fn add(&mut self, lib: Arc<Library>, replace: bool, restore: bool) -> Result<(), JoinError> {
        if self.libraries.contains_key(&lib.name) {
            if !replace {
                return Err(if restore {
                    JoinError::RestoredLibraryExists(lib.name.clone())
                } else {
                    JoinError::LibraryExists(lib.name.clone())
                });
            }
            self.remove(&lib.name);
        }
        for f in &lib.functions {
            if self.functions.contains_key(&f.name.to_ascii_lowercase()) {
                return Err(JoinError::FunctionExists(f.name.clone()));
            }
        }
        for f in &lib.functions {
            self.functions.insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
        Ok(())
    }
}

/// How FUNCTION RESTORE merges what it restores.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RestorePolicy {
    /// Refuse a library that exists (the default).
    Append,
    /// Replace a library that exists.
    Replace,
    /// Drop every library first.
    Flush,
}

/// Every loaded library.
#[derive(Default)]
pub struct Functions {
    registry: Mutex<Registry>,
    /// Bumped on every change: engines then drop the libraries they compiled that are gone.
    generation: AtomicU64,
}

impl Functions {
    /// The change generation (see [`Functions::generation`]'s field).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The function with this name (any case) and its library.
    pub fn function(&self, name: &[u8]) -> Option<(Arc<Library>, FunctionMeta)> {
        let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let registry = self.registry.lock();
        let lib = registry.libraries.get(registry.functions.get(&name)?)?.clone();
        let meta = lib.functions.iter().find(|f| f.name.eq_ignore_ascii_case(&name))?.clone();
        Some((lib, meta))
    }

    /// The library with this name, if it is (still) the one loaded.
    pub fn is_current(&self, lib: &Arc<Library>) -> bool {
        self.registry.lock().libraries.get(&lib.name).is_some_and(|l| Arc::ptr_eq(l, lib))
    }

    /// FUNCTION LOAD: adds a library, replacing one of the same name if `replace`.
    pub fn load(&self, lib: Library, replace: bool) -> Result<(), JoinError> {
        let mut registry = self.registry.lock();
        let mut next = registry.clone();
        next.add(Arc::new(lib), replace, false)?;
        *registry = next;
        self.changed();
        Ok(())
    }

    /// FUNCTION RESTORE: adds every library or none.
    pub fn restore(&self, libs: Vec<Library>, policy: RestorePolicy) -> Result<(), JoinError> {
        let mut registry = self.registry.lock();
        let mut next = if policy == RestorePolicy::Flush { Registry::default() } else { registry.clone() };
        for lib in libs {
            next.add(Arc::new(lib), policy == RestorePolicy::Replace, true)?;
        }
        *registry = next;
        self.changed();
        Ok(())
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete(&self, name: &[u8]) -> bool {
        let Ok(name) = std::str::from_utf8(name) else { return false };
        let removed = self.registry.lock().remove(name).is_some();
        if removed {
            self.changed();
        }
        removed
    }

    /// FUNCTION FLUSH.
    pub fn flush(&self) {
        *self.registry.lock() = Registry::default();
        self.changed();
    }

    /// Every library, by name.
    pub fn libraries(&self) -> Vec<Arc<Library>> {
        self.registry.lock().libraries.values().cloned().collect()
    }

    /// Number of libraries and of functions (FUNCTION STATS).
    pub fn counts(&self) -> (usize, usize) {
        let registry = self.registry.lock();
        (registry.libraries.len(), registry.functions.len())
    }
}

/// FUNCTION DUMP's payload (meshkv's own format, not Redis's RDB one):
/// `MKVFUNC` then a version byte (1), the number of libraries (u32, little-endian), each
/// library's code as a u32 little-endian length and its bytes, and last the first 8 bytes of the
/// SHA1 of everything before them. RESTORE refuses a payload whose magic, version or checksum is
/// wrong, as Redis refuses one of its own.
pub fn dump(libs: &[Arc<Library>]) -> Vec<u8> {
    let mut out = Vec::from(&DUMP_MAGIC[..]);
    out.push(DUMP_VERSION);
    out.extend_from_slice(&(libs.len() as u32).to_le_bytes());
    for lib in libs {
        out.extend_from_slice(&(lib.code.len() as u32).to_le_bytes());
        out.extend_from_slice(&lib.code);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum);
    out
}

const DUMP_MAGIC: &[u8; 7] = b"MKVFUNC";
const DUMP_VERSION: u8 = 1;

fn checksum(data: &[u8]) -> [u8; 8] {
    let digest = sha1_smol::Sha1::from(data).digest().bytes();
    digest[..8].try_into().expect("a SHA1 has 20 bytes")
}

/// The libraries' codes in a FUNCTION DUMP payload, or `None` for a payload that is not one.
pub fn undump(payload: &[u8]) -> Option<Vec<Bytes>> {
    let body_len = payload.len().checked_sub(8)?;
    let (body, sum) = payload.split_at(body_len);
    if body.len() < DUMP_MAGIC.len() + 5 || &body[..DUMP_MAGIC.len()] != DUMP_MAGIC || checksum(body) != sum {
        return None;
    }
    if body[DUMP_MAGIC.len()] != DUMP_VERSION {
        return None;
    }
    let mut rest = &body[DUMP_MAGIC.len() + 1..];
    let mut take = |n: usize| -> Option<&[u8]> {
        if rest.len() < n {
            return None;
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let mut codes = Vec::new();
    for _ in 0..count {
        let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        codes.push(Bytes::copy_from_slice(take(len)?));
    }
    if !rest.is_empty() {
        return None;
    }
    Some(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(name: &str, functions: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: Bytes::from(format!("#!lua name={name}\n")),
            functions: functions
                .iter()
                .map(|f| FunctionMeta { name: (*f).into(), description: None, flags: FunctionFlags::default() })
                .collect(),
        }
    }

    #[test]
    fn dump_round_trips_and_garbage_is_refused() {
        let libs = vec![Arc::new(lib("a", &["f"])), Arc::new(lib("b", &["g"]))];
        let payload = dump(&libs);
        let codes = undump(&payload).expect("our own payload");
        assert_eq!(codes, vec![libs[0].code.clone(), libs[1].code.clone()]);
        assert_eq!(undump(b"garbage"), None);
        let mut flipped = payload.clone();
        flipped[10] ^= 1;
        assert_eq!(undump(&flipped), None);
        assert_eq!(undump(&payload[..payload.len() - 1]), None);
    }

    #[test]
    fn names_collide_as_in_redis() {
        let f = Functions::default();
        f.load(lib("a", &["F1", "f2"]), false).unwrap();
        assert_eq!(f.load(lib("a", &["x"]), false), Err(JoinError::LibraryExists("a".into())));
        assert_eq!(f.load(lib("b", &["f1"]), false), Err(JoinError::FunctionExists("f1".into())));
        assert!(f.function(b"f1").is_some() && f.function(b"F2").is_some());
        f.load(lib("a", &["f3"]), true).unwrap();
        assert!(f.function(b"f1").is_none() && f.function(b"f3").is_some());
        // A failed restore changes nothing.
        let err = f.restore(vec![lib("c", &["g"]), lib("a", &["h"])], RestorePolicy::Append);
        assert_eq!(err, Err(JoinError::RestoredLibraryExists("a".into())));
        assert!(f.function(b"g").is_none());
        f.restore(vec![lib("c", &["g"])], RestorePolicy::Flush).unwrap();
        assert_eq!(f.counts(), (1, 1));
        assert!(f.delete(b"c") && !f.delete(b"c"));
    }
}
