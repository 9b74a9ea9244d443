//! Clients: the per-connection state a connection task owns ([`ClientState`]) and the part other
//! connections may see or act on ([`ClientHandle`]: CLIENT LIST, CLIENT KILL).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use meshkv_storage::Key;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use crate::log::Logger;
use crate::output_limit::OutputLimits;
use crate::pubsub::Message;

impl ClientHandle {
    /// True for a client connected from 127.0.0.1 or ::1 (what Redis calls a local client, for
    /// the `local` setting of `enable-debug-command` and `enable-protected-configs`).
    pub fn is_local(&self) -> bool {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        self.addr.parse::<std::net::SocketAddr>().is_ok_and(|a| {
            matches!(a.ip(), IpAddr::V4(ip) if ip == Ipv4Addr::LOCALHOST)
                || matches!(a.ip(), IpAddr::V6(ip) if ip == Ipv6Addr::LOCALHOST)
        })
    }
}

/// What other connections can see of a client.
pub struct ClientHandle {
    /// Unique id (CLIENT ID).
    pub id: u64,
    /// Peer address.
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// When the connection was accepted.
    pub created: Instant,
    /// CLIENT SETNAME.
    pub name: Mutex<Option<Bytes>>,
    /// Selected database.
    pub db: AtomicUsize,
    /// Milliseconds since `created` at the last command.
    pub last_active_ms: AtomicU64,
    /// Bytes in the query buffer (CLIENT LIST's `qbuf=`): while a batch of requests runs, all of
    /// it, the running request included (as Redis's); while the connection waits, what was read
    /// and not yet run.
    pub qbuf: AtomicUsize,
    /// Room made in the query buffer for more input (CLIENT LIST's `qbuf-free=`).
    pub qbuf_free: AtomicUsize,
    /// The command running or last run, a subcommand by its full name (CLIENT LIST's `cmd=`,
    /// `client|list`).
    pub last_cmd: Mutex<&'static str>,
    /// Protocol version, 2 or 3.
    pub resp: AtomicU8,
    /// Channel subscriptions.
    pub subscriptions: AtomicUsize,
    /// Pattern subscriptions.
    pub patterns: AtomicUsize,
    /// Queued MULTI commands, or -1 outside MULTI.
    pub multi: AtomicU64,
    /// True while blocked in BLPOP and friends.
    pub blocked: AtomicBool,
    /// True once the client is a MONITOR.
    pub monitor: AtomicBool,
    /// Set by CLIENT KILL; the connection notices through `kill`.
    pub killed: AtomicBool,
    /// Wakes the connection task so it sees `killed`.
    pub kill: Notify,
    /// CLIENT UNBLOCK: how a blocked command is to end ([`UNBLOCK_TIMEOUT`] or
    /// [`UNBLOCK_ERROR`]; 0 for not asked), and the wake-up that says so.
    pub unblock_reason: AtomicU8,
    /// Wakes a blocked connection task so it sees `unblock_reason`.
    pub unblock: Notify,
    /// Bytes waiting to be written to the client: messages queued in its inbox (pub/sub,
    /// MONITOR) and the replies being written (CLIENT LIST's `omem=`). What its output limits
    /// are checked against (see [`crate::output_limit`]).
    pub omem: AtomicUsize,
    /// The ACL user the client authenticated as (CLIENT LIST's `user=`, CLIENT KILL USER); None
    /// for the default user.
    pub user: Mutex<Option<Arc<crate::acl::AclUser>>>,
    /// When `omem` was first seen over the class's soft limit (milliseconds since `created`,
    /// plus one), or 0 while it is under.
    pub soft_limit_since: AtomicU64,
    /// Where messages for this client are queued (set once its connection made its inbox):
    /// how a client-side caching invalidation reaches another client (see [`Inbox::of`]).
    pub inbox_tx: std::sync::OnceLock<mpsc::UnboundedSender<Message>>,
}

/// CLIENT UNBLOCK ... TIMEOUT (the default): the blocked command replies as if it timed out.
pub const UNBLOCK_TIMEOUT: u8 = 1;
/// CLIENT UNBLOCK ... ERROR: the blocked command fails with `-UNBLOCKED`.
pub const UNBLOCK_ERROR: u8 = 2;

impl ClientHandle {
    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        (self.created.elapsed().as_millis() as u64).saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// The name of the ACL user the client authenticated as.
    pub fn user_name(&self) -> String {
        self.user.lock().as_ref().map_or_else(|| "default".to_string(), |u| u.name.clone())
    }

    /// True if the client authenticated as `user` (the very user: not a namesake created after it
    /// was deleted).
    pub fn is_user(&self, user: &Arc<crate::acl::AclUser>) -> bool {
        self.user.lock().as_ref().is_some_and(|u| Arc::ptr_eq(u, user))
    }

    /// The CLIENT LIST / CLIENT INFO line for this client.
    pub fn info_line(&self) -> String {
        let name = self.name.lock().as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        let multi = self.multi.load(Ordering::Relaxed) as i64;
        let mut flags = String::new();
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if self.subscriptions.load(Ordering::Relaxed) + self.patterns.load(Ordering::Relaxed) > 0 {
            flags.push('P');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user={} redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            flags,
            self.db.load(Ordering::Relaxed),
            self.subscriptions.load(Ordering::Relaxed),
            self.patterns.load(Ordering::Relaxed),
            multi,
            self.qbuf.load(Ordering::Relaxed),
            self.qbuf_free.load(Ordering::Relaxed),
            self.omem.load(Ordering::Relaxed),
            self.last_cmd.lock(),
            self.user_name(),
            self.resp.load(Ordering::Relaxed),
        )
    }
}

/// All connected clients.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection.
    pub fn register(&self, addr: String, laddr: String) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(None),
            db: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(0),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            last_cmd: Mutex::new("NULL"),
            resp: AtomicU8::new(2),
            subscriptions: AtomicUsize::new(0),
            patterns: AtomicUsize::new(0),
            multi: AtomicU64::new(u64::MAX),
            blocked: AtomicBool::new(false),
            monitor: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            unblock_reason: AtomicU8::new(0),
            unblock: Notify::new(),
            omem: AtomicUsize::new(0),
            soft_limit_since: AtomicU64::new(0),
            user: Mutex::new(None),
            inbox_tx: std::sync::OnceLock::new(),
        });
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// The connected client with this id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every connected client, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.clients.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }
}

/// The sending side of a client's inbox: pub/sub messages and MONITOR lines for its connection to
/// write. The inbox itself is unbounded; what it holds is counted in the client's `omem` and
/// checked against its output limits as each message is queued, so a client that stops reading
/// is closed at its limit instead of queueing without end.
#[derive(Clone)]
pub struct Inbox {
    tx: mpsc::UnboundedSender<Message>,
    handle: Arc<ClientHandle>,
}

impl Inbox {
    /// An inbox for the client of `handle`, and the receiver its connection drains.
    pub fn new(handle: Arc<ClientHandle>) -> (Inbox, mpsc::UnboundedReceiver<Message>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = handle.inbox_tx.set(tx.clone());
        (Inbox { tx, handle }, rx)
    }

    /// The inbox of the client of `handle`, once its connection made one.
    pub fn of(handle: &Arc<ClientHandle>) -> Option<Inbox> {
        Some(Inbox { tx: handle.inbox_tx.get()?.clone(), handle: handle.clone() })
    }

    /// Queues `msg` unless the client is being closed; closes it (logging why) once what waits
    /// for it is over its output limits. Returns false if the client is gone.
    pub fn send(&self, msg: Message, limits: &OutputLimits, log: &Logger) -> bool {
        if self.handle.killed.load(Ordering::Acquire) {
            // Being closed (over its limit, say): nothing more is queued, but it still counts as
            // a receiver until it is gone, as Redis counts a client closed ASAP.
            return !self.tx.is_closed();
        }
        let size = msg.size();
        let used = self.handle.omem.fetch_add(size, Ordering::Relaxed) + size;
        if self.tx.send(msg).is_err() {
            self.handle.omem.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        limits.enforce(log, &self.handle, used);
        true
    }
}

/// A client waiting in a blocking command.
pub struct Blocked {
    /// Database of the keys.
    pub db: usize,
    /// Keys whose writes wake the client.
    pub keys: Vec<Key>,
    /// When to give up (None: wait forever).
    pub deadline: Option<Instant>,
    /// Reply to send on timeout (null array or null bulk).
    pub on_timeout: fn(&mut crate::protocol::Reply),
}

/// The state a connection task owns.
pub struct ClientState {
    /// The shared part.
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: usize,
    /// Passed AUTH (or no password is required).
    pub authenticated: bool,
    /// The ACL user whose rights the client's commands are checked against.
    pub user: Arc<crate::acl::AclUser>,
    /// Commands queued by MULTI, or None outside MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A queued command was rejected: EXEC must fail with EXECABORT.
    pub multi_failed: bool,
    /// True while EXEC runs queued commands (blocking commands must not block then).
    pub in_exec: bool,
    /// True while a script or function runs this client's commands (Redis's `CLIENT_SCRIPT`).
    pub in_script: bool,
    /// Keys under WATCH.
    pub watched: Vec<(usize, Key)>,
    /// Raised by any write to a watched key.
    pub watch_dirty: Arc<AtomicBool>,
    /// Subscribed channels.
    pub channels: std::collections::HashSet<Bytes>,
    /// Subscribed patterns.
    pub patterns: std::collections::HashSet<Bytes>,
    /// Where PUBLISH delivers this client's messages.
    pub inbox: Inbox,
    /// Set when the command asked to block.
    pub block: Option<Blocked>,
    /// Close the connection after writing the pending replies (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Notified when a key this client is blocked on is written.
    pub waker: Arc<Notify>,
    /// The time of the command being run.
    pub clock: CommandClock,
    /// FLASH tier: the last change this client's commands staged; RAM mode with the append-only
    /// file: the last frame its commands logged. Under `appendfsync always` replies wait until it
    /// is written and synced.
    pub flash_seq: u64,
    /// FLASH tier: keys to read from flash before the command runs (see `Outcome::Load`).
    pub preload: Option<(usize, Vec<meshkv_storage::Key>)>,
    /// The command about to run again has had its keys read: do not check them again.
    pub preloaded: bool,
    /// FLASH tier: how many of the next requests (this one included) had their cold keys read
    /// in one batch, and run without checking again (see `Connection::add_pipeline_cold_keys`).
    pub preloaded_ahead: usize,
    /// FLASH tier: keys read from flash only for the requests being run (database, key, the stamp
    /// it came with); the connection lets them go when the requests in its buffer have run.
    pub passing: Vec<(usize, meshkv_storage::Key, meshkv_storage::Stamp)>,
    /// MESHKV.SYNC: a peer's request; the connection is handed to replication.
    pub sync_request: Option<meshkv_replication::SyncRequest>,
    /// The last command's name as published in `handle.last_cmd` (which is only locked when the
    /// name changes).
    pub last_cmd: &'static str,
    /// Work a handler left for after its locks are released (see `Ctx::after`).
    pub after: Vec<AfterLocks>,
    /// CLIENT REPLY: what happens to this client's replies.
    pub replies: ReplyMode,
    /// True while a blocked command runs again after a wake-up: a key that now holds another
    /// type is passed over (the client goes on waiting), as Redis serves a blocked client only
    /// from a key of the type it waits for.
    pub woken: bool,
    /// CLIENT TRACKING: this client's tracking, when on.
    pub tracking: Option<Arc<crate::tracking::Tracker>>,
    /// CLIENT CACHING YES|NO was given for the next command (or the next EXEC).
    pub caching: bool,
    /// The running script of a tracking client called a read-only command: its declared keys
    /// are remembered when it ends, as Redis 7.0 does.
    pub script_read: bool,
}

/// CLIENT REPLY ON|OFF|SKIP. Replies that are pub/sub pushes (subscription confirmations,
/// messages) are sent whatever the mode, as in Redis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply is sent.
    #[default]
    On,
    /// No reply is sent until CLIENT REPLY ON.
    Off,
    /// CLIENT REPLY SKIP ran: the next command's reply is not sent.
    SkipNext,
    /// This command's reply is not sent (the one after CLIENT REPLY SKIP).
    Skip,
}

/// Work that needs the whole server, run by the dispatcher once a command's locks are released
/// (see `Ctx::after`).
pub enum AfterLocks {
    /// Side effects only: the command's reply is already written.
    Work(Box<AfterWork>),
    /// Work that writes the command's reply (commands that cannot be queued in MULTI only, so
    /// that no later reply of an EXEC is written before it).
    Reply(Box<AfterReply>),
}

/// See [`AfterLocks::Work`].
pub type AfterWork = dyn FnOnce(&Arc<crate::server::Server>) + Send;
/// See [`AfterLocks::Reply`].
pub type AfterReply = dyn FnOnce(&Arc<crate::server::Server>, &mut ClientState, &mut crate::protocol::Reply) + Send;

/// The time commands run at, read from the system clock once per batch of pipelined requests.
///
/// Each command reads the monotonic clock once, when it ends, for the slow log; that reading is
/// the next command's start, and the command time (Unix milliseconds, for expiry) is the batch's
/// wall-clock time advanced by the monotonic time since. A command sees one time throughout, as in
/// Redis.
pub struct CommandClock {
    batch_unix_ms: u64,
    batch_start: Instant,
    mark: Instant,
}

impl CommandClock {
    fn new() -> CommandClock {
        let now = Instant::now();
        CommandClock { batch_unix_ms: crate::server::unix_ms(), batch_start: now, mark: now }
    }

    /// Reads the clocks afresh: at the start of a batch, or after waiting.
    pub fn start_batch(&mut self) {
        *self = CommandClock::new();
    }

    /// The current command's time in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.batch_unix_ms + (self.mark - self.batch_start).as_millis() as u64
    }

    /// Ends the current command: returns its duration in microseconds and starts the next one.
    pub fn lap_micros(&mut self) -> u64 {
        let now = Instant::now();
        let micros = (now - self.mark).as_micros() as u64;
        self.mark = now;
        micros
    }
}

impl ClientState {
    /// Fresh state for a new connection.
    pub fn new(
        handle: Arc<ClientHandle>,
        authenticated: bool,
        user: Arc<crate::acl::AclUser>,
        inbox: Inbox,
    ) -> ClientState {
        ClientState {
            handle,
            db: 0,
            authenticated,
            user,
            multi: None,
            multi_failed: false,
            in_exec: false,
            in_script: false,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            channels: Default::default(),
            patterns: Default::default(),
            inbox,
            block: None,
            close_after_reply: false,
            sync_request: None,
            waker: Arc::new(Notify::new()),
            clock: CommandClock::new(),
            flash_seq: 0,
            preload: None,
            preloaded: false,
            preloaded_ahead: 0,
            passing: Vec::new(),
            last_cmd: "NULL",
            after: Vec::new(),
            replies: ReplyMode::On,
            woken: false,
            tracking: None,
            caching: false,
            script_read: false,
        }
    }

    /// The client is now `user` (AUTH, HELLO AUTH, RESET); `is_default` for the default user.
    pub fn set_user(&mut self, user: Arc<crate::acl::AclUser>, is_default: bool) {
        *self.handle.user.lock() = (!is_default).then(|| user.clone());
        self.user = user;
    }

    /// Records the name of the command that ran (CLIENT LIST's `cmd=`).
    pub fn set_last_cmd(&mut self, name: &'static str) {
        if !std::ptr::eq(self.last_cmd, name) {
            self.last_cmd = name;
            *self.handle.last_cmd.lock() = name;
        }
    }

    /// True in RESP2 subscriber mode, where only (P)(UN)SUBSCRIBE, PING, QUIT, RESET are allowed.
    pub fn in_subscriber_mode(&self, resp3: bool) -> bool {
        let subscribed = !(self.channels.is_empty() && self.patterns.is_empty());
        !resp3 && subscribed
    }

    /// Selects a database.
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db, Ordering::Relaxed);
    }
}
