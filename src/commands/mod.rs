//! The command table and the dispatcher.
//!
//! Each family of commands lives in its own module (as Redis's `t_string.c`, `t_list.c`, ...) and
//! lists its commands in a `COMMANDS` table: name, arity, flags, which arguments are keys, and the
//! handler. The dispatcher checks arity, authentication, MULTI queueing and subscriber mode, locks
//! the shards of the command's keys, and runs the handler on a [`Ctx`]. Handlers write their reply
//! straight into the output buffer and return `Err` only before writing anything.

pub mod args;
mod bits;
mod connection;
mod functions;
pub(crate) mod hashes;
mod keys;
mod lists;
mod long_double;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod sort;
mod stats;
mod strings;
mod subcommands;
mod transactions;
mod zsets;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use meshkv_storage::{Key, LockSet, Txn};
use smallvec::SmallVec;

use crate::client::{AfterLocks, Blocked, ClientState};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::server::{Server, Shared};

/// Command flags (as COMMAND INFO reports them, plus dispatcher-only ones).
pub mod flags {
    /// Modifies data.
    pub const WRITE: u32 = 1;
    /// Only reads data.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory (refused under maxmemory with noeviction).
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed in scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 6;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 7;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 8;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 9;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 10;
    /// Allowed in RESP2 subscriber mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 11;
    /// Runs immediately even inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET).
    pub const NOT_QUEUED: u32 = 1 << 12;
    /// Not allowed inside MULTI (queued as an error).
    pub const NO_MULTI: u32 = 1 << 13;
    /// Runs a script (EVAL and kin): the commands it calls are checked by their own flags, so the
    /// dispatcher does not treat it as a read.
    pub const SCRIPT: u32 = 1 << 14;
    /// Not a write, yet what it does reaches replicas (Redis's `may-replicate`, which COMMAND
    /// hides): PUBLISH. CLIENT PAUSE WRITE holds it, and a read-only script may not call it.
    pub const MAY_REPLICATE: u32 = 1 << 15;
}

/// Which arguments of a command are keys (what the dispatcher locks).
#[derive(Clone, Copy)]
pub enum Keys {
    /// No keys.
    None,
    /// Arguments `first..=last` every `step`; a negative `last` counts from the end (-1 = last).
    Range {
        /// First key argument.
        first: usize,
        /// Last key argument.
        last: i32,
        /// Distance between keys.
        step: usize,
    },
    /// A function that lists the key positions (commands with a `numkeys` argument). On malformed
    /// arguments it lists nothing; the handler then reports the error before touching keys.
    Custom(fn(&[Bytes], &mut SmallVec<[usize; 8]>)),
    /// Every shard of the selected database (KEYS, SCAN, FLUSHDB, DBSIZE, RANDOMKEY).
    Db,
    /// Every shard of every database (FLUSHALL, SWAPDB, BGSAVE, DEBUG DIGEST).
    All,
    /// Depends on the arguments (DEBUG: DIGEST locks everything, SLEEP nothing); the function
    /// never answers `Dynamic`.
    Dynamic(fn(&[Bytes]) -> Keys),
    /// Keys in databases the arguments name (MOVE, COPY ... DB): the function is given the
    /// arguments, the client's database and the number of databases, and lists `(database,
    /// argument position)` pairs. On malformed arguments it lists what the handler may still
    /// touch before it reports the error.
    Placed(PlaceKeys),
}

impl Keys {
    /// The first argument is the key (most commands).
    pub const FIRST: Keys = Keys::Range { first: 1, last: 1, step: 1 };
    /// The first two arguments are keys (RENAME, SMOVE, LMOVE, ...).
    pub const FIRST_TWO: Keys = Keys::Range { first: 1, last: 2, step: 1 };
    /// Every argument after the name is a key (DEL, MGET, SINTER, ...).
    pub const ALL: Keys = Keys::Range { first: 1, last: -1, step: 1 };
}

/// Lists the `(database, argument position)` of a command's keys, given its arguments, the
/// client's database and the number of databases (see [`Keys::Placed`]).
pub type PlaceKeys = fn(&[Bytes], usize, usize, &mut SmallVec<[(usize, usize); 4]>);

/// The signature of a command handler.
pub type Handler = fn(&mut Ctx<'_, '_>, &[Bytes]) -> CmdResult;

/// One command.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N exactly, or -N for at least N (the name counts).
    pub arity: i32,
    /// [`flags`] bits.
    pub flags: u32,
    /// Key positions.
    pub keys: Keys,
    /// COMMAND DOCS group (`string`, `list`, `generic`, ...).
    pub group: &'static str,
    /// One-line summary (COMMAND DOCS).
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The handler.
    pub handler: Handler,
}

/// What a handler works with.
///
/// Its reach is the locking rule: the keys come only through `txn`, which holds the shards its
/// dispatcher locked; `server` is the part of the server that takes no shard lock (see
/// [`Server`]). What needs the whole server goes to [`Ctx::after`].
pub struct Ctx<'c, 't> {
    /// Shared server state, less the keyspace.
    pub server: &'c Shared,
    /// This client's state.
    pub client: &'c mut ClientState,
    /// The locked shards of the command's keys.
    pub txn: &'c mut Txn<'t>,
    /// The reply buffer.
    pub out: &'c mut Reply,
    /// The command may block (BLPOP and friends): it takes its turn behind clients that blocked
    /// on a key before it (see [`Ctx::my_turn`]).
    blocking: bool,
    /// The failed calls INFO commandstats counts for a handler that succeeded with a reply that
    /// holds errors (a script returned some; see `engine::ReplyErrors`). A handler that fails
    /// counts one.
    failures: u64,
}

impl Ctx<'_, '_> {
    /// The selected database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// An argument as a key of the keyspace.
    pub fn key(&self, arg: &Bytes) -> Key {
        self.txn.key(arg.clone())
    }

    /// Arguments as keys of the selected database, their slots asked for ahead (see
    /// `Txn::prefetch`): a command that looks up several keys (MGET, MSET, DEL, EXISTS) takes
    /// their cache misses together instead of one after another.
    pub fn keys_ahead<'b>(&self, args: impl Iterator<Item = &'b Bytes>) -> SmallVec<[Key; 16]> {
        let keys: SmallVec<[Key; 16]> = args.map(|arg| self.key(arg)).collect();
        self.txn.prefetch(self.db(), &keys);
        keys
    }

    /// What the command may know of the whole keyspace without a lock (counts, counters).
    pub fn keyspace(&self) -> meshkv_storage::KeyspaceView<'_> {
        self.txn.view()
    }

    /// Runs `work` with the whole server once the command's locks are released (for EXEC, once
    /// the transaction's are): for side effects that need more than the command's keys, such as
    /// starting a thread or a replication link. The reply must not depend on it: it is written
    /// before `work` runs.
    pub fn after(&mut self, work: impl FnOnce(&Arc<Server>) + Send + 'static) {
        self.client.after.push(AfterLocks::Work(Box::new(work)));
    }

    /// Like [`Ctx::after`], but `work` writes the reply: for commands that cannot be queued in
    /// MULTI (SAVE, SHUTDOWN), which then reply once their whole-server work is done. Inside EXEC
    /// (where such commands never run) it is refused.
    pub fn reply_after(
        &mut self,
        work: impl FnOnce(&Arc<Server>, &mut ClientState, &mut Reply) + Send + 'static,
    ) -> CmdResult {
        if self.client.in_exec {
            return Err(CmdError::fixed("ERR Command not allowed inside a transaction"));
        }
        self.client.after.push(AfterLocks::Reply(Box::new(work)));
        Ok(())
    }

    /// Keyspace notifications: announces `event` of `class` (`crate::notify::LIST`...) on `key`
    /// in the selected database.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.server.notify(class, event, self.client.db, key);
    }

    /// Deletes `key` (named `arg` by the client) if a pop or remove left its collection empty,
    /// with the `del` event Redis sends then. True if it went.
    pub fn drop_if_empty(&mut self, key: &Key, arg: &[u8]) -> bool {
        let gone = self.txn.remove_if_empty(self.client.db, key);
        if gone {
            self.notify(crate::notify::GENERIC, "del", arg);
        }
        gone
    }

    /// The command's time in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.txn.now_ms()
    }

    /// False if this command blocks (BLPOP and friends) and another client that blocked on `key`
    /// before it still waits: what `key` holds is theirs first, as Redis serves the first blocked
    /// client first. Other commands always have their turn.
    pub fn my_turn(&self, key: &Key) -> bool {
        !self.blocking || !self.txn.waiting_ahead(self.client.db, key, &self.client.waker)
    }

    /// Asks to block until one of `keys` is written or `timeout` passes (None: forever); the
    /// command is then run again. Inside EXEC a blocking command cannot wait: the timeout reply is
    /// sent at once, as Redis does.
    pub fn block(&mut self, keys: Vec<Key>, timeout: Option<Duration>, on_timeout: fn(&mut Reply)) {
        if self.client.in_exec {
            on_timeout(self.out);
            return;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        self.client.block = Some(Blocked { db: self.client.db, keys, deadline, on_timeout });
    }
}

/// All commands, by the name clients call them: a command's own name, or the one
/// `rename-command` gave it (a command renamed to `""` is not in the table at all).
pub struct CommandTable {
    by_name: HashMap<Box<str>, &'static CommandSpec, ahash::RandomState>,
}

/// Why a `rename-command` line cannot be applied (Redis's texts).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenameError {
    /// The old name is not (or no longer) a command.
    #[error("No such command in rename-command")]
    NoSuchCommand,
    /// The new name is already taken.
    #[error("Target command name already exists")]
    TargetExists,
}

pub use stats::CommandStats;

impl CommandTable {
    /// The table of every family's commands.
    pub fn new() -> CommandTable {
        let by_name = Self::specs().map(|c| (c.name.into(), c)).collect();
        CommandTable { by_name }
    }

    /// Every command meshkv has, by its own name (before any `rename-command`).
    pub fn specs() -> impl Iterator<Item = &'static CommandSpec> {
        let families: [&'static [CommandSpec]; 19] = [
            connection::COMMANDS,
            server::COMMANDS,
            keys::COMMANDS,
            strings::COMMANDS,
            bits::COMMANDS,
            hashes::COMMANDS,
            lists::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            pubsub::COMMANDS,
            transactions::COMMANDS,
            functions::COMMANDS,
            sort::COMMANDS,
            scripting::COMMANDS,
            server::DEBUG_COMMANDS,
            server::MEMORY_COMMANDS,
            server::REPLICATION_COMMANDS,
            server::ACL_COMMANDS,
            server::CLUSTER_COMMANDS,
        ];
        families.into_iter().flat_map(|f| f.iter())
    }

    /// The table with `rename-command` lines applied in order, as Redis applies them while it
    /// reads its config file: each old name is looked up in the table as the lines before left it.
    pub fn renamed(renames: &[(String, String)]) -> Result<CommandTable, RenameError> {
        let mut table = CommandTable::new();
        for (old, new) in renames {
            table.rename(old, new)?;
        }
        Ok(table)
    }

    /// Calls command `old` by the name `new` from now on, or removes it when `new` is empty. The
    /// command keeps its own name in COMMAND's replies and error texts, as in Redis.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), RenameError> {
        let spec = self.by_name.remove(old.to_ascii_lowercase().as_str()).ok_or(RenameError::NoSuchCommand)?;
        if new.is_empty() {
            return Ok(());
        }
        match self.by_name.entry(new.to_ascii_lowercase().into()) {
            std::collections::hash_map::Entry::Occupied(_) => Err(RenameError::TargetExists),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(spec);
                Ok(())
            }
        }
    }

    /// Looks a command up by name, case-insensitively, without allocating for names of up to 32
    /// bytes (every command's own name).
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut buf = [0u8; 32];
        match buf.get_mut(..name.len()) {
            Some(lower) => {
                for (l, c) in lower.iter_mut().zip(name) {
                    *l = c.to_ascii_lowercase();
                }
                self.by_name.get(std::str::from_utf8(lower).ok()?).copied()
            }
            None => self.by_name.get(std::str::from_utf8(&name.to_ascii_lowercase()).ok()?).copied(),
        }
    }

    /// Every command that can be called (unordered), each under its own name.
    pub fn all(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.by_name.values().copied()
    }

    /// Number of commands that can be called.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True if the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl Default for CommandTable {
    fn default() -> Self {
        Self::new()
    }
}

/// What the connection must do after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Go on with the next request.
    Continue,
    /// Write pending replies, then close.
    Close,
    /// The command blocked; `client.block` says on what. Run it again when woken.
    Blocked,
    /// FLASH tier: some of the command's keys are on flash only; `client.preload` lists them.
    /// Read them off the worker, then run the command again.
    Load,
    /// MESHKV.SYNC: the connection becomes a replication link (`client.sync_request` says for
    /// whom).
    Handover,
}

/// Adds the shards of `spec`'s keys in `args` to `set`.
pub fn collect_keys(server: &Server, db: usize, spec: &CommandSpec, args: &[Bytes], set: &mut LockSet) {
    collect_keys_with(server, db, spec, args, set, |_| {});
}

/// [`collect_keys`], handing each key (hashed once) to `seen` as well.
#[inline]
fn collect_keys_with(
    server: &Server,
    db: usize,
    spec: &CommandSpec,
    args: &[Bytes],
    set: &mut LockSet,
    mut seen: impl FnMut(Key),
) {
    let ks = &server.keyspace;
    match keys_of(spec, args) {
        Keys::Db => set.add_db(db),
        Keys::All => set.add_all(),
        Keys::Placed(place) => {
            let mut placed = SmallVec::new();
            place(args, db, ks.databases(), &mut placed);
            for (db, pos) in placed {
                if let Some(arg) = args.get(pos).filter(|_| db < ks.databases()) {
                    set.add(ks, db, &ks.key(arg.clone()));
                }
            }
        }
        _ => for_each_key(spec, args, |arg| {
            let key = ks.key(arg.clone());
            set.add(ks, db, &key);
            seen(key);
        }),
    }
}

/// FLASH tier: adds to `cold` the keys of request `args` that are on flash only (a request for
/// an unknown command, or one that touches no key, adds nothing).
pub fn cold_keys(server: &Server, db: usize, args: &[Bytes], cold: &mut Vec<Key>) {
    let Some(spec) = args.first().and_then(|name| server.commands.lookup(name)) else { return };
    if !arity_ok(spec, args.len()) || !reads_values(spec, args) {
        return;
    }
    // Only RAM is asked: a key that is not there is read in the batch, which costs no more than
    // asking flash's filters first (they would answer "maybe" for every key that exists).
    for_each_key(spec, args, |arg| {
        let key = server.keyspace.key(arg.clone());
        if !server.keyspace.in_ram(db, &key) {
            cold.push(key);
        }
    });
}

/// FLASH tier: false for the commands that only overwrite or delete their keys, or test their
/// existence: their keys' old values need not be read from flash first (the transaction checks
/// existence alone, from the bloom filter and the record's header).
fn reads_values(spec: &CommandSpec, args: &[Bytes]) -> bool {
    !matches!(
        (spec.name, args.len()),
        ("set", 3) | ("mset", _) | ("setex", _) | ("psetex", _) | ("del", _) | ("unlink", _) | ("exists", _)
    )
}

/// What `spec` locks for these arguments.
#[inline]
fn keys_of(spec: &CommandSpec, args: &[Bytes]) -> Keys {
    match spec.keys {
        Keys::Dynamic(choose) => choose(args),
        keys => keys,
    }
}

/// Calls `visit` with each key argument of a command (none for whole-database commands).
fn for_each_key(spec: &CommandSpec, args: &[Bytes], mut visit: impl FnMut(&Bytes)) {
    for_each_key_position(spec, args, |i| visit(&args[i]));
}

/// Calls `visit` with the position of each key argument of a command (none for whole-database
/// commands, nor for keys placed in other databases).
fn for_each_key_position(spec: &CommandSpec, args: &[Bytes], mut visit: impl FnMut(usize)) {
    match keys_of(spec, args) {
        // Keys of other databases are read by the command itself on the FLASH tier.
        Keys::None | Keys::Db | Keys::All | Keys::Dynamic(_) | Keys::Placed(_) => {}
        Keys::Range { first, last, step } => {
            let last = if last < 0 { args.len() as i32 + last } else { last };
            let mut i = first;
            while (i as i32) <= last && i < args.len() {
                visit(i);
                i += step;
            }
        }
        Keys::Custom(find) => {
            let mut positions = SmallVec::new();
            find(args, &mut positions);
            for i in positions {
                if i < args.len() {
                    visit(i);
                }
            }
        }
    }
}

/// A request an ACL user may not run: what was denied, and the command's catalog entry.
pub(crate) struct AclDenial {
    denied: crate::acl::Denied,
    command: usize,
}

impl AclDenial {
    /// ACL LOG's reason.
    fn reason(&self) -> &'static str {
        match self.denied {
            crate::acl::Denied::Command => "command",
            crate::acl::Denied::Key(_) => "key",
            crate::acl::Denied::Channel(_) => "channel",
        }
    }

    /// ACL LOG's object: the command's full name, or the key or channel.
    fn object(&self, args: &[Bytes]) -> String {
        match self.denied {
            crate::acl::Denied::Command => crate::acl::catalog().entries[self.command].name.clone(),
            crate::acl::Denied::Key(i) | crate::acl::Denied::Channel(i) => args::lossy(&args[i]),
        }
    }

    /// The error a client gets (Redis 7.0's texts).
    fn error(&self) -> CmdError {
        CmdError::Other(
            match self.denied {
                crate::acl::Denied::Command => format!(
                    "NOPERM this user has no permissions to run the '{}' command",
                    crate::acl::catalog().entries[self.command].name
                ),
                crate::acl::Denied::Key(_) => {
                    "NOPERM this user has no permissions to access one of the keys used as arguments".to_string()
                }
                crate::acl::Denied::Channel(_) => {
                    "NOPERM this user has no permissions to access one of the channels used as arguments".to_string()
                }
            }
            .into(),
        )
    }

    /// The error of a queued command EXEC no longer may run.
    fn exec_error(&self) -> String {
        let reason = match self.denied {
            crate::acl::Denied::Command => "no permission to execute the command or subcommand",
            crate::acl::Denied::Key(_) => "no permission to touch the specified keys",
            crate::acl::Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This \
             command is no longer allowed for the following reason: {reason}"
        )
    }

    /// The error a script's `redis.call` gets.
    fn script_error(&self) -> &'static str {
        match self.denied {
            crate::acl::Denied::Command => "ERR The user executing the script can't run this command or subcommand",
            crate::acl::Denied::Key(_) => {
                "ERR The user executing the script can't access at least one of the keys mentioned in the command \
                 arguments"
            }
            crate::acl::Denied::Channel(_) => {
                "ERR The user executing the script can't publish to the channel mentioned in the command"
            }
        }
    }
}

/// Checks a request against `user`'s rules: the command (or subcommand), its keys, its channels.
/// Only called for a user without every right.
#[inline(never)]
pub(crate) fn acl_check(
    user: &crate::acl::AclUser,
    spec: &CommandSpec,
    args: &[Bytes],
    db: usize,
) -> Result<(), AclDenial> {
    let catalog = crate::acl::catalog();
    let Some(resolved) = catalog.resolve(spec.name, args) else { return Ok(()) };
    let mut keys = SmallVec::<[usize; 8]>::new();
    match keys_of(spec, args) {
        Keys::Placed(place) => {
            let mut placed = SmallVec::<[(usize, usize); 4]>::new();
            place(args, db, usize::MAX, &mut placed);
            keys.extend(placed.into_iter().map(|(_, pos)| pos).filter(|&pos| pos < args.len()));
        }
        // A script's declared keys: the whole keyspace is locked for it, but ACL checks them as
        // Redis's numkeys key spec finds them (none if numkeys is not a count the arguments hold).
        Keys::All if matches!(spec.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro") => {
            // A count as Redis's `string2ll` reads it: digits, no sign, no leading zero.
            let numkeys = args
                .get(2)
                .filter(|n| !n.starts_with(b"+") && (n.len() <= 1 || !n.starts_with(b"0")))
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
            if let Some(n) = numkeys.filter(|&n| 3 + n <= args.len()) {
                keys.extend(3..3 + n);
            }
        }
        _ => for_each_key_position(spec, args, |i| keys.push(i)),
    }
    user.rules()
        .check(catalog, resolved, spec.flags & flags::NO_AUTH != 0, args, &keys)
        .map_err(|denied| AclDenial { denied, command: resolved.0 })
}

/// Adds a denial to ACL LOG.
pub(crate) fn acl_log(
    server: &Shared,
    client: &ClientState,
    denial: &AclDenial,
    args: &[Bytes],
    context: &'static str,
) {
    server.acl.log.add(
        denial.reason(),
        context,
        denial.object(args),
        client.user.name.clone(),
        client.handle.info_line(),
    );
}

/// ACL DRYRUN's answer for `user` running `args`: None if allowed, else the reason (Redis's text).
pub(crate) fn acl_dryrun(user: &crate::acl::AclUser, spec: &CommandSpec, args: &[Bytes], db: usize) -> Option<String> {
    let denial = acl_check(user, spec, args, db).err()?;
    Some(match denial.denied {
        crate::acl::Denied::Command => {
            format!("This user has no permissions to run the '{}' command", denial.object(args))
        }
        crate::acl::Denied::Key(_) => {
            format!("This user has no permissions to access the '{}' key", denial.object(args))
        }
        crate::acl::Denied::Channel(_) => {
            format!("This user has no permissions to access the '{}' channel", denial.object(args))
        }
    })
}

/// True if `n` arguments (the name included) fit the command's arity.
pub(crate) fn arity_ok(spec: &CommandSpec, n: usize) -> bool {
    let n = n as i32;
    if spec.arity >= 0 {
        n == spec.arity
    } else {
        n >= -spec.arity
    }
}

/// Redis's reply to an unknown command.
fn unknown_command(args: &[Bytes]) -> CmdError {
    let mut text = format!("ERR unknown command '{}', with args beginning with: ", String::from_utf8_lossy(&args[0]));
    for a in args[1..].iter() {
        let a = String::from_utf8_lossy(a);
        if text.len() + a.len() > 128 + 60 {
            break;
        }
        text.push_str(&format!("'{a}' "));
    }
    CmdError::Other(text.into())
}

/// Redis's reply to a command refused over `maxmemory`.
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Redis 7.0's reply to DEBUG when `enable-debug-command` does not allow this client.
const DEBUG_NOT_ALLOWED: &str =
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
    you can run it from a local connection, otherwise you need to set this option in the configuration file, and then \
    restart the server.";

/// Redis 7.0's reply to a write while `stop-writes-on-bgsave-error` holds writes back.
const MISCONF_BGSAVE: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist \
    to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors \
    during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for \
    details about the RDB error.";

/// Writes that cannot be persisted are refused with MISCONF, as Redis refuses them; reads still
/// run. Two cases:
///
/// - FLASH tier, or the append-only file, while writes to disk fail: under `everysec` a write
///   acknowledged now would live in memory only.
/// - RAM mode with `save` rules and `stop-writes-on-bgsave-error yes` (the default), after the
///   last background save failed, until a save succeeds: the operator is told at once that the
///   data is no longer being persisted, rather than on the next restart. As in Redis, PING is
///   refused too (a health check then sees the problem), and a failed SAVE does not stop writes
///   (its caller got the error).
///
/// A write command, or an EXEC whose queue holds one, is refused. One or two atomic loads while
/// saves succeed.
fn write_refusal(server: &Server, client: &ClientState, spec: &CommandSpec) -> Option<CmdError> {
    let writes = || writes(server, client, spec, None);
    if let Some(failure) = server.keyspace.flash().and_then(|flash| flash.write_failure()) {
        return writes().then(|| CmdError::FlashWrite(failure.cause().to_string()));
    }
    if let Some(failure) = server.aof.log.write_failure() {
        return writes().then(|| CmdError::Other(format!("MISCONF Errors writing to the AOF file: {failure}").into()));
    }
    if crate::persistence::writes_stopped(server) && (spec.name == "ping" || writes()) {
        return Some(CmdError::fixed(MISCONF_BGSAVE));
    }
    None
}

/// True if `spec` writes, or is an EXEC whose queue holds a write. With the request's `args`
/// (CLIENT PAUSE WRITE asks), what Redis pauses as a write counts too: a script or function that
/// may write, and PUBLISH (`may-replicate`: replicas get it); a MISCONF refusal leaves scripts to
/// fail at their first write, as Redis does.
fn writes(server: &Server, client: &ClientState, spec: &CommandSpec, args: Option<&[Bytes]>) -> bool {
    let pausing = args.is_some();
    let is_write = |spec: &CommandSpec, args: &[Bytes]| {
        spec.flags & flags::WRITE != 0
            || (pausing && (spec.flags & flags::MAY_REPLICATE != 0 || scripting::may_write(server, spec.name, args)))
    };
    args.is_some_and(|args| is_write(spec, args))
        || spec.flags & flags::WRITE != 0
        || (spec.name == "exec"
            && client.multi.as_ref().is_some_and(|queue| {
                queue.iter().any(|q| server.commands.lookup(&q[0]).is_some_and(|spec| is_write(spec, q)))
            }))
}

/// True if CLIENT PAUSE ... WRITE holds this request back: it writes, or may (a script), or is
/// PUBLISH (which Redis replicates, and so pauses too), or is an EXEC of one of those. An unknown
/// command or a wrong number of arguments is answered at once, as Redis checks those before the
/// pause.
pub fn paused_as_write(server: &Server, client: &ClientState, args: &[Bytes]) -> bool {
    server
        .commands
        .lookup(&args[0])
        .is_some_and(|spec| arity_ok(spec, args.len()) && writes(server, client, spec, Some(args)))
}

/// True if CLIENT PAUSE ... ALL holds this request back: any command Redis would run (an
/// unknown command or a wrong number of arguments is answered at once).
pub fn paused_as_any(server: &Server, args: &[Bytes]) -> bool {
    server.commands.lookup(&args[0]).is_some_and(|spec| arity_ok(spec, args.len()))
}

/// Executes one request, writing its reply to `out` unless CLIENT REPLY silenced it.
pub fn execute(server: &Server, client: &mut ClientState, out: &mut Reply, args: &[Bytes]) -> Outcome {
    if server.tracking.active() {
        return execute_tracked(server, client, out, args);
    }
    execute_replying(server, client, out, args)
}

/// [`execute`] while a client tracks keys: the keys the command writes are invalidated once it
/// ended and let its locks go (see [`crate::tracking`]); CLIENT CACHING's word holds for one
/// command (or one transaction), as in Redis.
#[cold]
fn execute_tracked(server: &Server, client: &mut ClientState, out: &mut Reply, args: &[Bytes]) -> Outcome {
    crate::tracking::begin_command(client.handle.id);
    let outcome = execute_replying(server, client, out, args);
    crate::tracking::end_command(&server.tracking, &server.delivery());
    if client.caching && client.multi.is_none() && !args::is(&args[0], "client") {
        client.caching = false;
    }
    outcome
}

fn execute_replying(server: &Server, client: &mut ClientState, out: &mut Reply, args: &[Bytes]) -> Outcome {
    use crate::client::ReplyMode;
    if client.replies == ReplyMode::On {
        return execute_command(server, client, out, args);
    }
    // CLIENT REPLY OFF or SKIP: the command runs, then what it replied is taken back, except
    // subscription confirmations, which are pub/sub pushes (Redis sends those whatever the mode).
    if client.replies == ReplyMode::SkipNext {
        client.replies = ReplyMode::Skip;
    }
    let mark = out.len();
    let outcome = execute_command(server, client, out, args);
    let subscription = ["subscribe", "psubscribe", "unsubscribe", "punsubscribe"].iter().any(|n| args::is(&args[0], n));
    if client.replies != ReplyMode::On && !subscription {
        out.truncate(mark);
    }
    if client.replies == ReplyMode::Skip {
        client.replies = ReplyMode::On;
    }
    outcome
}

/// Executes one request, writing its reply to `out`.
fn execute_command(server: &Server, client: &mut ClientState, out: &mut Reply, args: &[Bytes]) -> Outcome {
    // CLIENT LIST's `cmd=`, set as Redis sets it when it looks the request up: before it runs
    // (CLIENT LIST shows itself as `client|list`), queued in MULTI or not, refused or not; the
    // commands an EXEC or a script runs leave it alone.
    let Some(spec) = server.commands.lookup(&args[0]) else {
        client.set_last_cmd("NULL");
        return reject(server, client, out, unknown_command(args));
    };
    client.set_last_cmd(subcommands::full_name(spec.name, args));
    if !arity_ok(spec, args.len()) {
        return reject_refused(server, client, out, spec, CmdError::WrongArity(spec.name.into()));
    }
    if !client.authenticated && spec.flags & flags::NO_AUTH == 0 {
        return reject_refused(server, client, out, spec, CmdError::fixed("NOAUTH Authentication required."));
    }
    if !client.user.unrestricted() {
        if let Err(denial) = acl_check(&client.user, spec, args, client.db) {
            let context = if client.multi.is_some() { "multi" } else { "toplevel" };
            acl_log(server, client, &denial, args, context);
            if spec.name == "exec" {
                return reject_refused(server, client, out, spec, denial.error());
            }
            return reject(server, client, out, denial.error());
        }
    }
    if spec.name == "debug" && !server.config.read().enable_debug_command.permits(client.handle.is_local()) {
        return reject_known(server, client, out, Some(spec), CmdError::fixed(DEBUG_NOT_ALLOWED));
    }
    if spec.flags & flags::WRITE != 0 && server.hot.read_only_replica.load(std::sync::atomic::Ordering::Relaxed) {
        return reject_known(
            server,
            client,
            out,
            Some(spec),
            CmdError::fixed("READONLY You can't write against a read only replica."),
        );
    }
    if let Some(e) = write_refusal(server, client, spec) {
        return reject_refused(server, client, out, spec, e);
    }
    if client.in_subscriber_mode(out.resp3()) && spec.flags & flags::SUBSCRIBED_OK == 0 {
        let text = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        );
        return reject_refused(server, client, out, spec, CmdError::Other(text.into()));
    }
    // A MONITOR client is treated as Redis treats it (a replica): it may not touch the keyspace.
    if server.pubsub.monitors.active()
        && spec.flags & (flags::READONLY | flags::WRITE) != 0
        && client.handle.monitor.load(std::sync::atomic::Ordering::Relaxed)
    {
        return reject_known(
            server,
            client,
            out,
            Some(spec),
            CmdError::fixed("ERR Replica can't interact with the keyspace"),
        );
    }
    // Over maxmemory: a command that may grow memory first makes room, or is refused. As in Redis
    // 7, inside MULTI any command being queued is refused (EXEC then aborts); EXEC itself is not
    // checked again.
    if server.memory.over()
        && (spec.flags & flags::DENYOOM != 0 || (client.multi.is_some() && spec.flags & flags::NOT_QUEUED == 0))
        && !crate::memory::make_room(server)
    {
        return reject_known(server, client, out, Some(spec), CmdError::fixed(OOM));
    }
    // A running script holds every shard: wait for it, but not past `busy-reply-threshold`.
    if server.scripts.wait_or_busy() == crate::scripting::Busy::Busy && !allowed_while_busy(spec, args) {
        let busy = server.scripts.busy_error();
        // EXEC refused ends the transaction, as any refused EXEC does in Redis (its WATCHes are
        // left for the next EXEC, DISCARD or UNWATCH: forgetting them takes shard locks, which
        // the script holds).
        if spec.name == "exec" && client.multi.is_some() {
            transactions::leave_multi(client);
            let line = format!("EXECABORT Transaction discarded because of: {busy}");
            return reject_known(server, client, out, Some(spec), CmdError::Other(line.into()));
        }
        return reject_known(server, client, out, Some(spec), CmdError::fixed(busy));
    }
    if let Some(queue) = client.multi.as_mut() {
        if spec.flags & flags::NOT_QUEUED == 0 {
            if spec.flags & flags::NO_MULTI != 0 {
                let text = "ERR Command not allowed inside a transaction".to_string();
                return reject_known(server, client, out, Some(spec), CmdError::Other(text.into()));
            }
            // The name is a view of the connection's read buffer: a copy, so that a transaction
            // left open does not keep that buffer alive (the other arguments own their bytes).
            let mut queued = args.to_vec();
            queued[0] = Bytes::copy_from_slice(&args[0]);
            queue.push(queued);
            client.handle.multi.store(queue.len() as u64, std::sync::atomic::Ordering::Relaxed);
            out.simple("QUEUED");
            return Outcome::Continue;
        }
    }
    if spec.name == "exec" {
        // Its commands are counted as they run; EXEC itself as a call of no time of its own,
        // failed when it replied with an error (no MULTI, a doomed transaction).
        let mark = out.len();
        transactions::exec(server, client, out);
        let failed = out.buffer().get(mark) == Some(&b'-');
        server.cmdstats.called(spec, 0, failed as u64);
        if failed {
            let line = &out.buffer()[mark + 1..];
            let line = &line[..line.iter().position(|&b| b == b'\r').unwrap_or(line.len())];
            server.stats.error_replies.add(1);
            server.cmdstats.error(&String::from_utf8_lossy(line));
        }
        feed_monitors(server, client, spec, args, &Ok(()));
        run_after(server, client, out);
        return finish(client);
    }
    // FLASH tier: a command that reads values needs its keys in RAM. Residency is checked under
    // the locks the command takes anyway (one probe, nothing to race with); only when a key is
    // missing from RAM are the locks let go, flash's filters asked off the locks (a key flash
    // surely lacks needs no read), and the command sent to have its cold keys read. A command of a
    // pipeline whose cold keys were just read in one batch does not check again: a key evicted in
    // between (rare) is read by the command itself.
    let checked = std::mem::take(&mut client.preloaded) || client.preloaded_ahead > 0;
    let check_ram = server.keyspace.flash().is_some() && !checked && reads_values(spec, args);
    let now_ms = client.clock.now_ms();
    let mut set = LockSet::default();
    let mut keys = SmallVec::<[Key; 2]>::new();
    collect_keys_with(server, client.db, spec, args, &mut set, |key| {
        if check_ram {
            keys.push(key);
        }
    });
    // A script is busy from before it takes its locks (see Scripts::reserve).
    let _script = (spec.flags & flags::SCRIPT != 0).then(|| server.scripts.reserve());
    let mut txn = server.keyspace.lock(&mut set, now_ms);
    if check_ram {
        let mut cold: Vec<Key> = keys.into_iter().filter(|key| !txn.in_ram(client.db, key)).collect();
        if !cold.is_empty() {
            drop(txn);
            cold.retain(|key| server.keyspace.may_be_on_flash(client.db, key));
            if !cold.is_empty() {
                client.preload = Some((client.db, cold));
                return Outcome::Load;
            }
            txn = server.keyspace.lock(&mut set, now_ms);
        }
    }
    if spec.flags & (flags::WRITE | flags::SCRIPT) == 0 {
        txn.read_only();
    }
    run(server, client, out, &mut txn, spec, args);
    client.flash_seq = client.flash_seq.max(txn.commit());
    if let Some(blocked) = &client.block {
        let waker = client_waker(client);
        for key in &blocked.keys {
            txn.block_on(blocked.db, key, waker.clone());
        }
        return Outcome::Blocked;
    }
    drop(txn);
    run_after(server, client, out);
    finish(client)
}

/// `EVAL script numkeys key... arg...`, `FCALL function numkeys key... arg...`: the keys follow
/// numkeys (COMMAND GETKEYS; the commands themselves lock every shard).
pub(crate) fn numkeys_keys(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    let Some(n) = args.get(2).and_then(|a| args::parse_int(a)).and_then(|n| usize::try_from(n).ok()) else { return };
    if 3 + n <= args.len() {
        keys.extend(3..3 + n);
    }
}

/// What may run while a script is past `busy-reply-threshold` (as Redis's `allow-busy` commands):
/// SCRIPT KILL and FUNCTION KILL, to stop it, FUNCTION STATS, to see it, MULTI, and SHUTDOWN.
fn allowed_while_busy(spec: &CommandSpec, args: &[Bytes]) -> bool {
    match spec.name {
        "script" => args.get(1).is_some_and(|sub| args::is(sub, "KILL")),
        "function" => args.get(1).is_some_and(|sub| args::is(sub, "KILL") || args::is(sub, "STATS")),
        // Redis 7's allow-busy MULTI: a transaction can be opened while a script runs (its
        // commands are refused, so EXEC aborts).
        "multi" => true,
        "shutdown" => true,
        _ => false,
    }
}

/// Runs the work handlers left for after their locks (see [`Ctx::after`]).
#[inline]
fn run_after(server: &Server, client: &mut ClientState, out: &mut Reply) {
    if !client.after.is_empty() {
        run_after_slow(server, client, out);
    }
}

#[cold]
fn run_after_slow(server: &Server, client: &mut ClientState, out: &mut Reply) {
    let server = server.arc();
    for work in std::mem::take(&mut client.after) {
        match work {
            AfterLocks::Work(work) => work(&server),
            AfterLocks::Reply(work) => work(&server, client, out),
        }
    }
}

fn finish(client: &ClientState) -> Outcome {
    if client.sync_request.is_some() {
        Outcome::Handover
    } else if client.close_after_reply {
        Outcome::Close
    } else {
        Outcome::Continue
    }
}

/// The notifier a blocked client waits on.
pub fn client_waker(client: &ClientState) -> Arc<tokio::sync::Notify> {
    client.waker.clone()
}

/// Rejects a command before it runs; inside MULTI this also dooms the transaction.
fn reject(server: &Server, client: &mut ClientState, out: &mut Reply, e: CmdError) -> Outcome {
    reject_known(server, client, out, None, e)
}

/// [`reject_known`], except that a refused EXEC also ends the transaction (its WATCHes
/// forgotten), with its reason after `EXECABORT Transaction discarded because of: `, as Redis's
/// `rejectCommand` does whatever refused it (not in MULTI too). Must not be called while holding
/// shard locks.
fn reject_refused(
    server: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    spec: &CommandSpec,
    e: CmdError,
) -> Outcome {
    if spec.name != "exec" {
        return reject_known(server, client, out, Some(spec), e);
    }
    transactions::discard_state(server, client);
    let text = e.to_string();
    // Redis's own reasons carry no `ERR ` (theirs is added by the reply), other codes stay.
    let reason = text.strip_prefix("ERR ").unwrap_or(&text);
    let text = format!("EXECABORT Transaction discarded because of: {reason}");
    reject_known(server, client, out, Some(spec), CmdError::Other(text.into()))
}

/// [`reject`] of a command that exists: INFO commandstats counts it as a rejected call.
fn reject_known(
    server: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    spec: Option<&CommandSpec>,
    e: CmdError,
) -> Outcome {
    if client.multi.is_some() {
        client.multi_failed = true;
    }
    if let Some(spec) = spec {
        server.cmdstats.rejected(spec);
    }
    let text = e.to_string();
    count_error_reply(server, &text);
    out.error(&text);
    Outcome::Continue
}

/// An error reply went out (`line`, without the `-`): INFO's `total_error_replies` and errorstats
/// count it.
fn count_error_reply(server: &Shared, line: &str) {
    server.stats.error_replies.add(1);
    server.cmdstats.error(line);
}

/// Runs a command's handler on an open transaction: catches panics (the client gets an error and
/// is closed; the server lives on), keeps statistics and the slow log.
pub fn run(
    server: &Shared,
    client: &mut ClientState,
    out: &mut Reply,
    txn: &mut Txn<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) {
    // A script is shown before the commands it calls (as Redis feeds EVAL to MONITOR itself,
    // ahead of running it); every other command once it ran.
    let script = is_script(spec);
    if script {
        feed_monitors(server, client, spec, args, &Ok(()));
    }
    let (result, failures) = call_handler(server, client, out, txn, spec, args);
    remember_reads(server, client, spec, args);
    if !script {
        feed_monitors(server, client, spec, args, &result);
    }
    server.stats.commands.add(1);
    let micros = client.clock.lap_micros();
    server.cmdstats.called(spec, micros, failures);
    let threshold = server.hot.slowlog_threshold_plus_one.load(std::sync::atomic::Ordering::Relaxed);
    if threshold > 0 && micros >= threshold - 1 && spec.flags & flags::BLOCKING == 0 {
        let name = client.handle.name.lock().as_ref().map(|n| String::from_utf8_lossy(n).into_owned());
        server.slowlog.push(micros, args, client.handle.addr.clone(), name.unwrap_or_default());
    }
}

/// Runs a command a script called, on the script's transaction: as [`run`], less what belongs to
/// the script's own command (the slow log, the client's last command, MONITOR).
fn run_nested(
    server: &Shared,
    client: &mut ClientState,
    out: &mut Reply,
    txn: &mut Txn<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) {
    let (_, failures) = call_handler(server, client, out, txn, spec, args);
    // Shown as Redis shows a script's calls: `[db lua] "set" ...`.
    if server.pubsub.monitors.active() && spec.flags & flags::ADMIN == 0 {
        server.pubsub.monitors.feed(client.db, "lua", args, &server.hot.output, &server.log);
    }
    if client.tracking.is_some() && spec.flags & flags::READONLY != 0 {
        client.script_read = true;
    }
    server.stats.commands.add(1);
    // Its time is the script's (the client's clock laps once per command it sent).
    server.cmdstats.called(spec, 0, failures);
}

/// Client-side caching: a tracking client's read-only command has its keys remembered, under the
/// command's locks, so that no write can slip between the read and the remembering. A script
/// (EVAL, FCALL and their read-only forms) that called a read-only command has its declared keys
/// remembered, as Redis 7.0 does. One branch for a client that does not track.
#[inline]
fn remember_reads(server: &Shared, client: &mut ClientState, spec: &CommandSpec, args: &[Bytes]) {
    let Some(t) = &client.tracking else { return };
    let script = spec.flags & flags::SCRIPT != 0;
    let read = if script { std::mem::take(&mut client.script_read) } else { spec.flags & flags::READONLY != 0 };
    if !read || t.options.bcast {
        return;
    }
    // OPTIN: only right after CLIENT CACHING YES; OPTOUT: not right after CLIENT CACHING NO.
    if (t.options.optin && !client.caching) || (t.options.optout && client.caching) {
        return;
    }
    if script {
        // EVAL script numkeys key... (FCALL function numkeys key...): the script locks every
        // shard, so its declared keys are not in its key positions.
        let n = args.get(2).and_then(|n| args::parse_int(n)).unwrap_or(0).max(0) as usize;
        args.iter().skip(3).take(n).for_each(|key| server.tracking.remember(client.handle.id, key));
        return;
    }
    for_each_key(spec, args, |key| server.tracking.remember(client.handle.id, key));
}

/// Calls a command's handler: catches a panic (the client gets an error and is closed; the server
/// lives on), and replaces whatever a failed handler wrote with its error. Returns the handler's
/// result and the failed calls INFO commandstats counts for it (see [`Ctx`]'s `failures`).
fn call_handler(
    server: &Shared,
    client: &mut ClientState,
    out: &mut Reply,
    txn: &mut Txn<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> (CmdResult, u64) {
    let mark = out.len();
    let after_mark = client.after.len();
    let mut failures = 0;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let blocking = spec.flags & flags::BLOCKING != 0;
        let mut ctx = Ctx { server, client: &mut *client, txn: &mut *txn, out: &mut *out, blocking, failures: 0 };
        let result = (spec.handler)(&mut ctx, args);
        failures = ctx.failures;
        result
    }));
    let result = result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if txn.dirty() > 0 {
            stop_after_partial_write(server, spec, &what);
        }
        server.log.warning(&format!("command '{}' panicked: {what}; closing that client", spec.name));
        client.close_after_reply = true;
        Err(CmdError::err(format!("internal error while executing '{}'", spec.name)))
    });
    // Redis names the command as it was called (a renamed one by its new name), upper case.
    let result = result.map_err(|e| match e {
        CmdError::UnknownSubcommand { sub, .. } => {
            CmdError::UnknownSubcommand { sub, cmd: String::from_utf8_lossy(&args[0]).to_ascii_uppercase().into() }
        }
        e => e,
    });
    if let Err(e) = &result {
        client.after.truncate(after_mark); // a command that failed leaves no work behind
        out.truncate(mark);
        let text = e.to_string();
        if !matches!(e, CmdError::Counted(_)) {
            count_error_reply(server, &text);
        }
        out.error(&text);
    }
    let failures = if result.is_err() { 1 } else { failures };
    (result, failures)
}

/// A command is all or nothing, and so is an EXEC (one commit, replicated as one group). A
/// handler that panics before its transaction wrote anything leaves nothing behind: its client
/// gets an error and is closed, and the node serves on. One that panics after its transaction
/// wrote (itself, or an earlier command of the same EXEC) would leave part of that work in the
/// keyspace, which the commit would make durable and send to every peer; there is no undo log to
/// roll it back, so the node stops here, loudly, before the commit: nothing of the half-done
/// transaction is staged to flash or replicated (both happen at commit), and the data is what the
/// last commit left, as after a `kill -9`.
fn stop_after_partial_write(server: &Shared, spec: &CommandSpec, what: &str) -> ! {
    server.log.warning(&format!(
        "command '{}' panicked after writing ({what}): stopping the node before that partial write is committed \
         or replicated",
        spec.name
    ));
    std::process::abort()
}

/// Shows an executed command to MONITOR clients. Costs one relaxed load while nobody monitors.
/// Administrative commands are not shown (Redis hides them: they may carry secrets), nor QUIT
/// (Redis answers it before command execution), nor a container's unknown or misused subcommand
/// (Redis rejects those before execution too). A command that blocked is shown once, when it runs
/// again and completes.
#[inline]
/// EVAL, EVALSHA, FCALL and their read-only forms.
fn is_script(spec: &CommandSpec) -> bool {
    matches!(spec.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro")
}

fn feed_monitors(server: &Shared, client: &ClientState, spec: &CommandSpec, args: &[Bytes], result: &CmdResult) {
    if server.pubsub.monitors.active()
        && spec.flags & flags::ADMIN == 0
        && client.block.is_none()
        && spec.name != "quit"
        && !matches!(result, Err(CmdError::UnknownSubcommand { .. } | CmdError::WrongArity(_)))
    {
        server.pubsub.monitors.feed(client.db, &client.handle.addr, args, &server.hot.output, &server.log);
    }
}

/// Cleans up after a client that disconnected: its WATCHes, subscriptions and MONITOR.
pub fn disconnect(server: &Server, client: &mut ClientState) {
    if client.tracking.take().is_some() {
        server.tracking.disable(client.handle.id);
    }
    transactions::discard_state(server, client);
    pubsub::unsubscribe_all(server, client);
}

/// Writes an inbox message in the client's protocol: a pub/sub message, or a MONITOR line.
pub fn encode_message(out: &mut Reply, msg: &crate::pubsub::Message) {
    use crate::pubsub::Message;
    match msg {
        Message::Publish { pattern, channel, payload } => {
            match pattern {
                Some(pattern) => {
                    out.push(4);
                    out.bulk(b"pmessage");
                    out.bulk(pattern);
                }
                None => {
                    out.push(3);
                    out.bulk(b"message");
                }
            }
            out.bulk(channel);
            out.bulk(payload);
        }
        Message::Monitor(line) => out.raw(line),
        Message::Invalidate { keys, as_message } => {
            if *as_message {
                out.push(3);
                out.bulk(b"message");
                out.bulk(b"__redis__:invalidate");
            } else {
                out.push(2);
                out.bulk(b"invalidate");
            }
            match keys {
                Some(keys) => {
                    out.array(keys.len());
                    keys.iter().for_each(|k| out.bulk(k));
                }
                None => out.null(),
            }
        }
        Message::RedirectBroken(id) => {
            out.push(2);
            out.bulk(b"tracking-redir-broken");
            out.int(*id as i64);
        }
    }
}
