//! Client-side caching (`CLIENT TRACKING`), as Redis 7.0 does it.
//!
//! A tracking client in the default mode is told when a key it read may have changed: the keys of
//! its read-only commands are remembered in a table (key name -> client ids; like Redis's, it
//! ignores databases), and the first write to such a key, by anyone, by expiry, eviction or a
//! peer's change, sends each of those clients an invalidation and forgets the entry. In BCAST mode
//! nothing is remembered: every write to a key under one of the client's prefixes is announced.
//! A flush announces itself to every tracking client with a null invalidation.
//!
//! The message goes to the client itself as a RESP3 push (`invalidate [keys]`), or, with
//! `REDIRECT id`, to another client: a RESP3 push there too, or, for a RESP2 client in Pub/Sub
//! mode, a message on `__redis__:invalidate`. All of it travels through the receivers' inboxes
//! (as pub/sub messages do, with the same output limits), which their connections write after
//! the reply they are writing: so a client's own invalidations follow the reply of the command
//! (or EXEC, or script) that caused them, as in Redis 7.
//!
//! Costs: the keyspace reports writes only while some client tracks (one relaxed load per write
//! otherwise, see `Keyspace::track_writes`). Writes are reported under shard locks; this module
//! takes only its own locks then (the table's shards, the client map), never a shard's. A write
//! made by a command is not handled at once: it waits in a per-thread list until the command ends
//! and its locks are released ([`end_command`]), which also batches a command's keys into one
//! message per BCAST prefix, as Redis batches them per event-loop turn.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use smallvec::SmallVec;

use crate::client::{ClientHandle, ClientRegistry, Inbox};
use crate::log::Logger;
use crate::output_limit::OutputLimits;
use crate::pubsub::Message;

/// Number of independently locked parts of the key table.
const TABLE_SHARDS: usize = 32;

/// A tracking client's settings (CLIENT TRACKING ON's options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `REDIRECT id`: where its invalidations go (0: to itself).
    pub redirect: u64,
    /// `BCAST`: announce every write under the prefixes, remember nothing.
    pub bcast: bool,
    /// `OPTIN`: only keys read right after `CLIENT CACHING YES` are remembered.
    pub optin: bool,
    /// `OPTOUT`: keys read right after `CLIENT CACHING NO` are not remembered.
    pub optout: bool,
    /// `NOLOOP`: not told of its own writes.
    pub noloop: bool,
}

/// Why CLIENT TRACKING ON is refused (Redis's texts at the protocol edge).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrackingError {
    /// PREFIX without BCAST.
    #[error("ERR PREFIX option requires BCAST mode to be enabled")]
    PrefixNeedsBcast,
    /// Turning BCAST on or off while tracking.
    #[error(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    )]
    SwitchBcast,
    /// BCAST with OPTIN or OPTOUT.
    #[error("ERR OPTIN and OPTOUT are not compatible with BCAST")]
    OptWithBcast,
    /// OPTIN and OPTOUT together.
    #[error("ERR You can't specify both OPTIN mode and OPTOUT mode")]
    OptinAndOptout,
    /// Switching between OPTIN and OPTOUT while tracking.
    #[error(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
    )]
    SwitchOpt,
    /// A new prefix overlaps one the client has.
    #[error("ERR Prefix '{0}' overlaps with an existing prefix '{1}'. Prefixes for a single client must not overlap.")]
    OverlapsExisting(String, String),
    /// Two new prefixes overlap.
    #[error(
        "ERR Prefix '{0}' overlaps with another provided prefix '{1}'. Prefixes for a single client must not overlap."
    )]
    OverlapsProvided(String, String),
}

/// One part of the key table: key -> ids of the clients that read it.
type TableShard = HashMap<Bytes, SmallVec<[u64; 2]>>;

/// A client with tracking on, as the invalidation side sees it.
pub struct Tracker {
    /// Its handle (protocol, id), and through it its inbox.
    pub handle: Arc<ClientHandle>,
    /// Its options.
    pub options: Options,
    /// BCAST prefixes, sorted (the empty prefix when none was given).
    pub prefixes: Vec<Bytes>,
    /// The redirect client went away (TRACKINGINFO's `broken_redirect`).
    pub broken_redirect: AtomicBool,
}

/// The tracking state of the whole server.
pub struct Tracking {
    /// Tracking clients by id.
    clients: RwLock<HashMap<u64, Arc<Tracker>>>,
    /// Remembered keys: key -> ids of the clients that read it.
    table: Box<[Mutex<TableShard>]>,
    hasher: ahash::RandomState,
    /// Keys in `table`.
    keys: AtomicUsize,
    /// (key, client) pairs in `table`.
    items: AtomicUsize,
    /// BCAST prefixes -> ids of the clients that asked for them.
    prefixes: RwLock<BTreeMap<Bytes, SmallVec<[u64; 2]>>>,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicU64,
    /// On while any client tracks: the keyspace's switch for reporting writes
    /// (`Keyspace::track_writes`).
    active: Arc<AtomicBool>,
}

impl Tracking {
    /// The tracking state, holding `switch` (the keyspace's) on while a client tracks.
    pub fn new(switch: Arc<AtomicBool>) -> Self {
        switch.store(false, Ordering::Relaxed);
        Tracking {
            clients: Default::default(),
            table: (0..TABLE_SHARDS).map(|_| Mutex::default()).collect(),
            hasher: ahash::RandomState::new(),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            prefixes: Default::default(),
            max_keys: AtomicU64::new(1_000_000),
            active: switch,
        }
    }
}

/// Where an invalidation is delivered from: the server's clients, output limits and log.
pub struct Delivery<'a> {
    /// Every client (for REDIRECT targets).
    pub clients: &'a ClientRegistry,
    /// Output limits the receivers' inboxes are held to.
    pub limits: &'a OutputLimits,
    /// The log.
    pub log: &'a Logger,
}

thread_local! {
    /// The id of the client whose command runs on this thread while tracking is active (0: none).
    static RUNNING: Cell<u64> = const { Cell::new(0) };
    /// Keys that command wrote (None: a flush), handled when it ends, each with whether the
    /// command itself wrote it (false: lazy expiry on its way), for NOLOOP.
    static PENDING: RefCell<Vec<(Option<Bytes>, bool)>> = const { RefCell::new(Vec::new()) };
}

/// A command of client `id` starts on this thread: writes it makes wait for [`end_command`].
pub fn begin_command(id: u64) {
    RUNNING.with(|r| r.set(id));
}

/// The command begun by [`begin_command`] ended (its locks released): its invalidations go out.
pub fn end_command(tracking: &Tracking, to: &Delivery<'_>) {
    let writer = RUNNING.with(|r| r.replace(0));
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    // In order, each run of keys the command wrote (or not) as one batch.
    for run in pending.chunk_by(|a, b| a.1 == b.1) {
        let keys: Vec<Option<Bytes>> = run.iter().map(|(k, _)| k.clone()).collect();
        tracking.invalidate(&keys, run[0].1.then_some(writer), to);
    }
    tracking.enforce_limit(to);
}

impl Tracking {
    /// True while some client tracks keys.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Number of tracking clients (INFO `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.clients.read().len()
    }

    /// Keys remembered (INFO `tracking_total_keys`).
    pub fn total_keys(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    /// (key, client) pairs remembered (INFO `tracking_total_items`).
    pub fn total_items(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    /// BCAST prefixes in use (INFO `tracking_total_prefixes`).
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.read().len()
    }

    /// Sets `tracking-table-max-keys`.
    pub fn set_max_keys(&self, max: u64) {
        self.max_keys.store(max, Ordering::Relaxed);
    }

    /// Checks CLIENT TRACKING ON's options against each other and against `current` (the
    /// client's tracking now, if on), as Redis does and in its order.
    pub fn check(current: Option<&Tracker>, options: &Options, prefixes: &[Bytes]) -> Result<(), TrackingError> {
        if !options.bcast && !prefixes.is_empty() {
            return Err(TrackingError::PrefixNeedsBcast);
        }
        if current.is_some_and(|t| t.options.bcast != options.bcast) {
            return Err(TrackingError::SwitchBcast);
        }
        if options.bcast && (options.optin || options.optout) {
            return Err(TrackingError::OptWithBcast);
        }
        if options.optin && options.optout {
            return Err(TrackingError::OptinAndOptout);
        }
        if current.is_some_and(|t| (options.optin && t.options.optout) || (options.optout && t.options.optin)) {
            return Err(TrackingError::SwitchOpt);
        }
        if options.bcast {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let overlap = |a: &[u8], b: &[u8]| {
                let n = a.len().min(b.len());
                a[..n] == b[..n]
            };
            for (i, p) in prefixes.iter().enumerate() {
                if let Some(old) = current.into_iter().flat_map(|t| t.prefixes.iter()).find(|old| overlap(old, p)) {
                    return Err(TrackingError::OverlapsExisting(text(p), text(old)));
                }
                if let Some(other) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                    return Err(TrackingError::OverlapsProvided(text(p), text(other)));
                }
            }
        }
        Ok(())
    }

    /// Turns tracking on for `handle`'s client (after [`Tracking::check`]); a client already
    /// tracking keeps its BCAST prefixes and adds the new ones. Returns its tracker.
    pub fn enable(&self, handle: &Arc<ClientHandle>, options: Options, new_prefixes: Vec<Bytes>) -> Arc<Tracker> {
        let mut clients = self.clients.write();
        let id = handle.id;
        let mut prefixes = clients.get(&id).map(|t| t.prefixes.clone()).unwrap_or_default();
        if options.bcast {
            let added = if new_prefixes.is_empty() { vec![Bytes::new()] } else { new_prefixes };
            let mut table = self.prefixes.write();
            for p in added {
                if !prefixes.contains(&p) {
                    table.entry(p.clone()).or_default().push(id);
                    prefixes.push(p);
                }
            }
            prefixes.sort(); // TRACKINGINFO lists them in order, as Redis's radix tree does
        }
        let tracker =
            Arc::new(Tracker { handle: handle.clone(), options, prefixes, broken_redirect: AtomicBool::new(false) });
        clients.insert(id, tracker.clone());
        self.active.store(true, Ordering::Relaxed);
        tracker
    }

    /// Turns tracking off for client `id` (CLIENT TRACKING OFF, or it went away). What it had
    /// read stays in the table until written, as in Redis (the ids are checked when used).
    pub fn disable(&self, id: u64) {
        let mut clients = self.clients.write();
        if let Some(t) = clients.remove(&id) {
            let mut table = self.prefixes.write();
            for p in &t.prefixes {
                if let Some(ids) = table.get_mut(p) {
                    ids.retain(|i| *i != id);
                    if ids.is_empty() {
                        table.remove(p);
                    }
                }
            }
        }
        if clients.is_empty() {
            // Nobody left to tell: what was remembered goes, as a flush would take it (and writes
            // stop being reported, so it would never drain otherwise).
            self.clear();
            self.active.store(false, Ordering::Relaxed);
        }
    }

    /// Remembers that client `id` read `key`.
    pub fn remember(&self, id: u64, key: &[u8]) {
        let mut shard = self.table[self.shard_of(key)].lock();
        let ids = match shard.get_mut(key) {
            Some(ids) => ids,
            None => {
                self.keys.fetch_add(1, Ordering::Relaxed);
                shard.entry(Bytes::copy_from_slice(key)).or_default()
            }
        };
        if !ids.contains(&id) {
            ids.push(id);
            self.items.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) as usize) % TABLE_SHARDS
    }

    /// Takes `key`'s entry out of the table: the clients that read it.
    fn take(&self, key: &[u8]) -> Option<SmallVec<[u64; 2]>> {
        let ids = self.table[self.shard_of(key)].lock().remove(key)?;
        self.keys.fetch_sub(1, Ordering::Relaxed);
        self.items.fetch_sub(ids.len(), Ordering::Relaxed);
        Some(ids)
    }

    /// Empties the table (a flush).
    fn clear(&self) {
        for shard in self.table.iter() {
            let mut shard = shard.lock();
            let items: usize = shard.values().map(|ids| ids.len()).sum();
            self.keys.fetch_sub(shard.len(), Ordering::Relaxed);
            self.items.fetch_sub(items, Ordering::Relaxed);
            *shard = HashMap::new();
        }
    }

    /// Handles writes: each key in `keys` (None for a flush) by `writer` (None: not a command).
    pub fn invalidate(&self, keys: &[Option<Bytes>], writer: Option<u64>, to: &Delivery<'_>) {
        for (i, run) in keys.split(|k| k.is_none()).enumerate() {
            if i > 0 {
                self.flush(to);
            }
            if !run.is_empty() {
                self.invalidate_keys(run.iter().flatten(), writer, to);
            }
        }
    }

    fn invalidate_keys<'k>(&self, keys: impl Iterator<Item = &'k Bytes>, writer: Option<u64>, to: &Delivery<'_>) {
        // Locks in the order `enable` takes them: clients, then prefixes.
        let clients = self.clients.read();
        let prefixes = self.prefixes.read();
        let noloop = |id: u64| writer == Some(id) && clients.get(&id).is_some_and(|t| t.options.noloop);
        // BCAST: one message per client and prefix, holding every key of the batch under it.
        let mut bcast: Vec<(u64, &Bytes, Vec<Bytes>)> = Vec::new();
        for key in keys {
            if let Some(ids) = self.take(key) {
                for id in ids {
                    let Some(t) = clients.get(&id) else { continue };
                    if t.options.bcast || noloop(id) {
                        continue;
                    }
                    self.send(t, Some(std::slice::from_ref(key)), to);
                }
            }
            for (p, ids) in prefixes.iter().filter(|(p, _)| key.starts_with(p)) {
                for &id in ids.iter().filter(|&&id| !noloop(id)) {
                    match bcast.iter_mut().find(|(i, q, _)| *i == id && *q == p) {
                        Some((_, _, keys)) => keys.push(key.clone()),
                        None => bcast.push((id, p, vec![key.clone()])),
                    }
                }
            }
        }
        for (id, _, keys) in bcast {
            if let Some(t) = clients.get(&id) {
                self.send(t, Some(&keys), to);
            }
        }
    }

    /// A flush: the table is emptied and every tracking client gets a null invalidation.
    fn flush(&self, to: &Delivery<'_>) {
        self.clear();
        let clients: Vec<Arc<Tracker>> = self.clients.read().values().cloned().collect();
        for t in &clients {
            self.send(t, None, to);
        }
    }

    /// Evicts remembered keys over `tracking-table-max-keys`, telling their clients (as Redis
    /// does when it shrinks the table).
    pub fn enforce_limit(&self, to: &Delivery<'_>) {
        let max = self.max_keys.load(Ordering::Relaxed) as usize;
        if max == 0 || self.total_keys() <= max {
            return;
        }
        while self.total_keys() > max {
            let mut victims: Vec<Option<Bytes>> = Vec::new();
            let over = self.total_keys() - max;
            for shard in self.table.iter() {
                if victims.len() >= over {
                    break;
                }
                let shard = shard.lock();
                victims.extend(shard.keys().take(over - victims.len()).map(|k| Some(k.clone())));
            }
            if victims.is_empty() {
                break;
            }
            for key in victims.iter().flatten() {
                if let Some(ids) = self.take(key) {
                    let clients = self.clients.read();
                    for id in ids {
                        if let Some(t) = clients.get(&id).filter(|t| !t.options.bcast) {
                            self.send(t, Some(std::slice::from_ref(key)), to);
                        }
                    }
                }
            }
        }
    }

    /// Sends one invalidation (`keys`, or None for a flush) for tracker `t`: to itself or its
    /// redirect, in the receiver's protocol; RESP2 clients get nothing without a redirect to a
    /// Pub/Sub client, as in Redis.
    fn send(&self, t: &Tracker, keys: Option<&[Bytes]>, to: &Delivery<'_>) {
        let keys = keys.map(|k| k.to_vec());
        let target = match t.options.redirect {
            0 => t.handle.clone(),
            redirect => match to.clients.get(redirect) {
                Some(target) => target,
                None => {
                    t.broken_redirect.store(true, Ordering::Relaxed);
                    if t.handle.resp.load(Ordering::Relaxed) >= 3 {
                        if let Some(inbox) = Inbox::of(&t.handle) {
                            inbox.send(Message::RedirectBroken(redirect), to.limits, to.log);
                        }
                    }
                    return;
                }
            },
        };
        let as_message = if target.resp.load(Ordering::Relaxed) >= 3 {
            false
        } else if t.options.redirect != 0
            && target.subscriptions.load(Ordering::Relaxed) + target.patterns.load(Ordering::Relaxed) > 0
        {
            true
        } else {
            return;
        };
        if let Some(inbox) = Inbox::of(&target) {
            inbox.send(Message::Invalidate { keys, as_message }, to.limits, to.log);
        }
    }
}

/// Called by the keyspace's hook for each write while tracking is active: a command's write
/// waits for [`end_command`]; any other (expiry, eviction, a peer's change) is handled now.
pub fn written(tracking: &Tracking, key: &Bytes, by_command: bool, to: &Delivery<'_>) {
    if RUNNING.with(|r| r.get()) != 0 {
        PENDING.with(|p| p.borrow_mut().push((Some(key.clone()), by_command)));
    } else {
        tracking.invalidate(&[Some(key.clone())], None, to);
    }
}

/// Called by the keyspace's hook for a flush while tracking is active (see [`written`]).
pub fn flushed(tracking: &Tracking, to: &Delivery<'_>) {
    if RUNNING.with(|r| r.get()) != 0 {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            // FLUSHALL empties each database in turn: one null invalidation is enough.
            if !p.last().is_some_and(|(k, _)| k.is_none()) {
                p.push((None, true));
            }
        });
    } else {
        tracking.flush(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(bcast: bool) -> Options {
        Options { bcast, ..Options::default() }
    }

    /// Redis 7.0.15's texts and order for CLIENT TRACKING ON's checks.
    #[test]
    fn options_are_checked_as_redis_checks_them() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert_eq!(Tracking::check(None, &opts(false), &[b("a")]), Err(TrackingError::PrefixNeedsBcast));
        let both = Options { optin: true, optout: true, ..Options::default() };
        assert_eq!(Tracking::check(None, &both, &[]), Err(TrackingError::OptinAndOptout));
        let e = Tracking::check(None, &opts(true), &[b("FOOBAR"), b("FOO")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap."
        );
        assert!(Tracking::check(None, &opts(true), &[b("FOO"), b("BAR")]).is_ok());
    }
}
