//! One client connection: read requests, execute them in order, write replies in batches.
//!
//! The task reads whatever the socket has, executes every complete request in the buffer (a
//! pipeline costs one read and one write however deep it is), then writes all replies at once. A
//! blocked command (BLPOP and friends) parks the task until a write to one of its keys, its
//! timeout, CLIENT KILL or the client going away. Pub/sub messages arrive through the client's
//! inbox and are written in the client's protocol.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use crate::client::{ClientHandle, ClientState, Inbox};
use crate::commands::{execute, Outcome};
use crate::protocol::{parse_request, Parser, Reply, RequestLimits};
use crate::pubsub::Message;
use crate::server::Server;

/// Serves one accepted connection until it closes.
pub async fn serve(server: Arc<Server>, socket: TcpStream) {
    let (addr, laddr) = addresses(&socket);
    let (reader, writer) = socket.into_split();
    serve_halves(server, addr, laddr, reader, writer).await
}

/// Serves one connection accepted on the TLS port, once its handshake is done.
pub async fn serve_tls(server: Arc<Server>, stream: TlsStream<TcpStream>) {
    let (addr, laddr) = addresses(stream.get_ref().0);
    let (reader, writer) = tokio::io::split(stream);
    serve_halves(server, addr, laddr, reader, writer).await
}

/// The client's address and ours, as CLIENT LIST shows them; sets TCP_NODELAY on the way.
fn addresses(socket: &TcpStream) -> (String, String) {
    let _ = socket.set_nodelay(true);
    let addr = socket.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let laddr = socket.local_addr().map(|a| a.to_string()).unwrap_or_default();
    (addr, laddr)
}

/// Serves a connection given as its two directions, plain or TLS alike.
async fn serve_halves<R, W>(server: Arc<Server>, addr: String, laddr: String, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send,
{
    let handle = server.clients.register(addr, laddr);
    let (inbox_tx, inbox) = Inbox::new(handle.clone());
    let authenticated = !server.hot.auth_required.load(Ordering::Relaxed);
    let client = ClientState::new(handle.clone(), authenticated, server.acl.default_user().clone(), inbox_tx);
    let mut conn = Connection {
        server: server.clone(),
        client,
        reader,
        writer,
        inbox,
        input: BytesMut::new(),
        parser: Parser::default(),
        read_hint: KEEP_INPUT,
        batch_read: 0,
        out: Reply::new(),
        check_output_from: usize::MAX,
    };
    let handover = matches!(conn.run().await, Err(Close::Handover));
    crate::commands::disconnect(&server, &mut conn.client);
    if let Some(request) = conn.client.sync_request.take().filter(|_| handover) {
        // A peer pulling changes: from here on the connection speaks the replication protocol.
        let ip = conn.client.handle.addr.rsplit_once(':').map_or("", |(ip, _)| ip).to_string();
        let host: Arc<dyn meshkv_replication::Host> = server.clone();
        let killed = handle.kill.notified();
        let stop = async {
            if !handle.killed.load(Ordering::Acquire) {
                killed.await;
            }
        };
        meshkv_replication::source::serve(server.mesh.clone(), host, ip, conn.reader, conn.writer, request, stop).await;
    }
    server.clients.unregister(handle.id);
}

struct Connection<R, W> {
    server: Arc<Server>,
    client: ClientState,
    reader: R,
    writer: W,
    inbox: mpsc::UnboundedReceiver<Message>,
    /// Requests read and not yet run. Like the reply buffer, it is big only while the connection
    /// has a big pipeline in hand: once the requests in it ran, a buffer over [`KEEP_INPUT`] is
    /// freed (what is left of a request still coming moves to a small one), so an idle or
    /// waiting client holds at most that (fifty clients holding 16-32 KiB each would take a
    /// megabyte or two from the data under `maxmemory`).
    input: BytesMut,
    /// How far the request at the front of `input` has been parsed while its bytes arrive.
    parser: Parser,
    /// How much room to make when a pipeline starts: what the last one took (so a pipeline of
    /// big values is not copied into ever bigger buffers as it comes in).
    read_hint: usize,
    /// Bytes read since requests last ran: the part of the next pipeline read so far.
    batch_read: usize,
    out: Reply,
    /// The least of the client's output limits, read when a batch of requests starts: below it
    /// a command's replies need no check.
    check_output_from: usize,
}

/// An input buffer up to this size is kept between pipelines; a bigger one is freed.
const KEEP_INPUT: usize = 4 * 1024;
/// The most room made for a pipeline ahead of need (a bigger one grows the buffer as it comes).
const MAX_READ_HINT: usize = 1024 * 1024;

/// Why the connection ends.
enum Close {
    Normal,
    /// MESHKV.SYNC: replication takes the socket over.
    Handover,
}

type Result<T> = std::result::Result<T, Close>;

impl<R: AsyncRead + Unpin + Send, W: AsyncWrite + Unpin + Send> Connection<R, W> {
    fn handle(&self) -> &Arc<ClientHandle> {
        &self.client.handle
    }

    async fn run(&mut self) -> Result<()> {
        let mut args: Vec<Bytes> = Vec::with_capacity(8);
        loop {
            self.execute_buffered(&mut args).await?;
            if !self.out.is_empty() {
                // Let the worker's other ready connections run their requests before this reply
                // is written, so that replies leave in a burst (as Redis writes all replies at the
                // end of an event-loop round): a client busy reading one reply then finds the next
                // ones waiting instead of being woken up for each.
                tokio::task::yield_now().await;
            }
            self.flush().await?;
            let idle_limit = self.server.hot.idle_timeout_secs.load(Ordering::Relaxed);
            let exempt = self.exempt_from_timeout();
            let idle = async {
                if idle_limit == 0 || exempt {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_secs(idle_limit)).await
                }
            };
            if self.input.is_empty() {
                self.input.reserve(self.read_hint.min(KEEP_INPUT));
            } else {
                self.input.reserve(self.read_hint.saturating_sub(self.input.len()));
            }
            self.handle().qbuf.store(self.input.len(), Ordering::Relaxed);
            self.handle().qbuf_free.store(self.input.capacity() - self.input.len(), Ordering::Relaxed);
            // Messages first: a message published before this client's next request arrived
            // goes out before that request's reply, as in Redis (where it is already in the
            // client's output buffer).
            tokio::select! {
                biased;
                Some(msg) = self.inbox.recv() => self.write_messages(msg),
                read = self.reader.read_buf(&mut self.input) => self.count_read(read)?,
                _ = self.client.handle.kill.notified() => {}
                _ = idle => return Err(Close::Normal),
            }
            if self.handle().killed.load(Ordering::Acquire) {
                return Err(Close::Normal);
            }
        }
    }

    /// Accounts for what a read of the socket brought; ends the connection at its end, on an error, or over
    /// `client-query-buffer-limit`.
    fn count_read(&mut self, read: std::io::Result<usize>) -> Result<()> {
        let n = match read {
            Ok(0) | Err(_) => return Err(Close::Normal),
            Ok(n) => n,
        };
        self.batch_read += n;
        self.server.stats.net_input_bytes.add(n as u64);
        let limit = self.server.hot.query_buffer_limit.load(Ordering::Relaxed);
        if self.input.len() as u64 > limit {
            // Redis 7.0's line: the client's CLIENT INFO and the buffer's first 64 bytes.
            self.handle().qbuf.store(self.input.len(), Ordering::Relaxed);
            let mut bytes = bytes::BytesMut::new();
            crate::monitor::escape_into(&mut bytes, &self.input[..self.input.len().min(64)]);
            self.server.log.warning(&format!(
                "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
                self.handle().info_line(),
                String::from_utf8_lossy(&bytes)
            ));
            return Err(Close::Normal);
        }
        Ok(())
    }

    /// Executes every complete request in the input buffer, then, if any ran, remembers the
    /// pipeline's size and frees a big buffer.
    ///
    /// A client that streams its pipeline (it sends the next requests before it has read every
    /// reply) seldom leaves the buffer empty: a request only partly read is nearly always left
    /// at the end. So a pipeline is what was read between two rounds of requests run, not
    /// between two empty buffers: counted that way, the count grew for as long as the stream
    /// went on, and the first round after it that ended on a request's end set the hint to
    /// [`MAX_READ_HINT`], so that a few KiB of requests then took a 1 MiB buffer.
    async fn execute_buffered(&mut self, args: &mut Vec<Bytes>) -> Result<()> {
        if self.input.is_empty() {
            return Ok(());
        }
        let limits = RequestLimits {
            max_bulk_len: self.server.hot.proto_max_bulk_len.load(Ordering::Relaxed),
            ..RequestLimits::default()
        };
        self.client.clock.start_batch();
        self.handle().last_active_ms.store(self.handle().created.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.out.prepare();
        let output = &self.server.hot.output;
        self.out.set_limit(output.hard_bound(&self.client.handle));
        self.check_output_from = output.lowest(&self.client.handle);
        let before = self.input.len();
        // While its requests run, the query buffer holds all of them, as Redis's does until it
        // has run the last one (CLIENT LIST's `qbuf=26` for the `CLIENT LIST` it runs).
        self.handle().qbuf.store(before, Ordering::Relaxed);
        let ran = self.execute_parsed(args, &limits).await;
        self.let_go_passing();
        ran?;
        let left = self.input.len();
        // The requests are done before their replies leave: a client that has its reply sees the
        // buffer without them (CLIENT LIST from another client raced the next read and saw the
        // answered request still counted).
        self.handle().qbuf.store(left, Ordering::Relaxed);
        if left < before {
            self.read_hint = self.batch_read.saturating_sub(left).next_power_of_two().min(MAX_READ_HINT);
            self.batch_read = left;
            // A big request partly read keeps its buffer; a few bytes of one move to a small one.
            if self.input.capacity() > KEEP_INPUT && left <= KEEP_INPUT / 2 {
                self.input = BytesMut::from(&self.input[..]);
            }
        }
        Ok(())
    }

    /// Executes the complete requests in the input buffer (after any preload).
    async fn execute_parsed(&mut self, args: &mut Vec<Bytes>, limits: &RequestLimits) -> Result<()> {
        let mut limits = *limits;
        loop {
            // Before AUTH, Redis 7's small limits on a request's size apply (AUTH may come in the
            // same pipeline as the requests after it).
            limits.unauthenticated = !self.client.authenticated;
            match self.parser.parse(&mut self.input, args, &limits) {
                Ok(false) => return Ok(()),
                Ok(true) if args.is_empty() => continue,
                Ok(true) => {
                    if self.server.pause.holds(true).is_some() {
                        self.wait_while_paused(args).await?;
                    }
                    let mut outcome = execute(&self.server, &mut self.client, &mut self.out, args);
                    if outcome == Outcome::Load {
                        self.add_pipeline_cold_keys(&limits);
                        outcome = self.load_and_execute(args).await;
                    }
                    self.client.preloaded_ahead = self.client.preloaded_ahead.saturating_sub(1);
                    while outcome == Outcome::Blocked {
                        outcome = self.wait_blocked(args).await?;
                    }
                    if self.over_output_limit() {
                        return Err(Close::Normal);
                    }
                    if outcome == Outcome::Handover {
                        self.flush().await?;
                        return Err(Close::Handover);
                    }
                    if outcome == Outcome::Close {
                        self.drain_inbox(); // what MONITOR saw up to QUIT, say
                        self.flush().await?;
                        return Err(Close::Normal);
                    }
                }
                Err(e) => {
                    self.out.error(&format!("ERR Protocol error: {e}"));
                    self.server.log.log(
                        crate::config::LogLevel::Verbose,
                        &format!("Protocol error ({e}) from client {}", self.handle().addr),
                    );
                    self.flush().await?;
                    return Err(Close::Normal);
                }
            }
        }
    }

    /// True (and the client is being closed, its replies unwritten) when what waits to be written
    /// to it is over its output limits: its class's `client-output-buffer-limit` or
    /// `client-reply-size-limit`. Redis checks as each reply is added and closes the client
    /// without writing it; so does this, after each command (and handlers that write replies of
    /// a client-chosen length stop as soon as they are over, see `Reply::over_limit`).
    fn over_output_limit(&self) -> bool {
        let handle = self.handle();
        let used = self.out.len() + handle.omem.load(Ordering::Relaxed);
        if self.out.is_over() {
            let over = self.server.hot.output.check(handle, used).unwrap_or(crate::output_limit::Over::ClassLimit);
            crate::output_limit::close(&self.server.log, handle, over);
            return true;
        }
        if used < self.check_output_from {
            // Under every limit: a soft limit reached earlier is no longer (Redis forgets the
            // time once the client is back under it).
            if handle.soft_limit_since.load(Ordering::Relaxed) != 0 {
                handle.soft_limit_since.store(0, Ordering::Relaxed);
            }
            return false;
        }
        self.server.hot.output.enforce(&self.server.log, handle, used)
    }

    /// CLIENT PAUSE: holds the request back while a pause holds it (every request under `ALL`,
    /// writing ones under `WRITE`), counted as a blocked client; a kill ends the wait.
    async fn wait_while_paused(&mut self, args: &[Bytes]) -> Result<()> {
        if !crate::commands::paused_as_any(&self.server, args) {
            return Ok(());
        }
        let writes = crate::commands::paused_as_write(&self.server, &self.client, args);
        if self.server.pause.holds(writes).is_none() {
            return Ok(());
        }
        self.flush().await?;
        self.handle().blocked.store(true, Ordering::Relaxed);
        let server = self.server.clone();
        let killed = tokio::select! {
            _ = server.pause.wait(writes) => false,
            _ = self.client.handle.kill.notified() => true,
        };
        self.handle().blocked.store(false, Ordering::Relaxed);
        if killed || self.handle().killed.load(Ordering::Acquire) {
            return Err(Close::Normal);
        }
        self.client.clock.start_batch();
        Ok(())
    }

    /// Waits for a blocked command's keys, timeout or kill; then runs it again.
    async fn wait_blocked(&mut self, args: &[Bytes]) -> Result<Outcome> {
        self.flush().await?;
        let blocked = self.client.block.take().expect("Outcome::Blocked comes with a block");
        self.handle().blocked.store(true, Ordering::Relaxed);
        let waker = self.client.waker.clone();
        let deadline = blocked.deadline;
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        let mut closed = false;
        let mut timed_out = false;
        let mut unblocked = false;
        tokio::select! {
            _ = waker.notified() => {}
            _ = sleep => timed_out = true,
            _ = self.client.handle.kill.notified() => closed = true,
            _ = self.client.handle.unblock.notified() => unblocked = true,
            // What a blocked client sends meanwhile waits in its query buffer, and counts against
            // `client-query-buffer-limit` as any input does.
            read = self.reader.read_buf(&mut self.input) => closed = self.count_read(read).is_err(),
        }
        self.handle().blocked.store(false, Ordering::Relaxed);
        // The client keeps its place in its keys' queues while it runs the command again (woken
        // before its turn, it blocks again where it was); it leaves them once it is done.
        let leave = |server: &Server| {
            for key in &blocked.keys {
                server.keyspace.unblock(blocked.db, key, &waker);
            }
        };
        if closed || self.handle().killed.load(Ordering::Acquire) {
            leave(&self.server);
            return Err(Close::Normal);
        }
        let reason = self.handle().unblock_reason.swap(0, Ordering::AcqRel);
        if unblocked && reason == crate::client::UNBLOCK_ERROR {
            leave(&self.server);
            self.out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            return Ok(Outcome::Continue);
        }
        if timed_out || unblocked {
            leave(&self.server);
            (blocked.on_timeout)(&mut self.out);
            return Ok(Outcome::Continue);
        }
        self.client.clock.start_batch();
        self.client.woken = true;
        let mut outcome = execute(&self.server, &mut self.client, &mut self.out, args);
        if outcome == Outcome::Load {
            outcome = self.load_and_execute(args).await;
        }
        self.client.woken = false;
        match (&outcome, self.client.block.as_mut()) {
            (Outcome::Blocked, Some(b)) => b.deadline = deadline, // the original timeout still counts
            _ => leave(&self.server),
        }
        Ok(outcome)
    }

    /// FLASH tier: at a command that needs keys from flash, adds the cold keys of the pipeline's
    /// next complete requests to the read, so that a pipeline with several misses waits once, not
    /// once per miss; those requests then run without checking again (a key evicted in between,
    /// which is rare, is read by the command itself). A pipeline whose keys are all in RAM never
    /// pays for this look ahead. It stops at a SELECT: what follows reads another database.
    fn add_pipeline_cold_keys(&mut self, limits: &RequestLimits) {
        let Some((db, cold)) = self.client.preload.as_mut() else { return };
        if *db != self.client.db {
            return; // the command reads another database (MOVE, COPY ... DB): only its own keys
        }
        let mut peek = self.input.clone();
        let mut args = Vec::new();
        let mut ahead = 0;
        while let Ok(true) = parse_request(&mut peek, &mut args, limits) {
            if args.first().is_some_and(|name| name.eq_ignore_ascii_case(b"select")) {
                break;
            }
            crate::commands::cold_keys(&self.server, *db, &args, cold);
            ahead += 1;
        }
        // This command, then the `ahead` requests looked at.
        self.client.preloaded_ahead = ahead + 1;
    }

    /// Reads `keys` of `db` from flash into RAM on a reader thread; what came in makes room.
    async fn read_cold(&mut self, db: usize, keys: Vec<meshkv_storage::Key>) {
        let passing = self.server.readers.read(db, keys, self.client.clock.now_ms()).await;
        self.client.passing.extend(passing.into_iter().map(|(key, stamp)| (db, key, stamp)));
    }

    /// FLASH tier: lets go of the keys read from flash only for the requests just run (see
    /// `Keyspace::let_go`). Called when every complete request of the buffer has run: the read
    /// ahead covers all of them.
    fn let_go_passing(&mut self) {
        for (db, key, stamp) in self.client.passing.drain(..) {
            self.server.keyspace.let_go(db, &key, stamp);
        }
    }

    /// FLASH tier: reads the command's cold keys on a reader thread (so this worker's other
    /// clients go on), brings them into RAM, and runs the command.
    async fn load_and_execute(&mut self, args: &[Bytes]) -> Outcome {
        if let Some((db, keys)) = self.client.preload.take() {
            self.read_cold(db, keys).await;
        }
        self.client.preloaded = true;
        execute(&self.server, &mut self.client, &mut self.out, args)
    }

    /// Under `appendfsync always` on the FLASH tier or with the append-only file, holds the
    /// replies until every write they acknowledge is synced (group commit: one sync covers every
    /// client waiting for it).
    async fn wait_durable(&mut self) {
        let seq = self.client.flash_seq;
        if seq == 0 {
            return;
        }
        let Some(flash) = self.server.keyspace.flash() else {
            let log = &self.server.aof.log;
            if log.must_wait(seq) {
                log.wait_written_async(seq).await;
            }
            return;
        };
        if flash.written() >= seq || flash.fsync() != meshkv_storage::flash::Fsync::Always {
            return;
        }
        flash.wait_written_async(seq).await;
    }

    /// Clients that may rightly stay silent are never closed for idleness: subscribers, monitors
    /// (as in Redis), and clients inside MULTI.
    fn exempt_from_timeout(&self) -> bool {
        self.client.multi.is_some()
            || !self.client.channels.is_empty()
            || !self.client.patterns.is_empty()
            || self.handle().monitor.load(Ordering::Relaxed)
    }

    /// Writes `first` and whatever else already waits in the inbox, so that a burst of messages
    /// goes out in one write.
    fn write_messages(&mut self, first: Message) {
        self.handle().omem.fetch_sub(first.size(), Ordering::Relaxed);
        crate::commands::encode_message(&mut self.out, &first);
        self.drain_inbox();
    }

    /// Writes every message already waiting in the inbox (it leaves the inbox's count of waiting
    /// bytes for the reply buffer's, see `flush`).
    fn drain_inbox(&mut self) {
        while let Ok(msg) = self.inbox.try_recv() {
            self.client.handle.omem.fetch_sub(msg.size(), Ordering::Relaxed);
            crate::commands::encode_message(&mut self.out, &msg);
        }
    }

    async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.wait_durable().await;
        let buf = self.out.buffer();
        let n = buf.len();
        self.server.stats.net_output_bytes.add(n as u64);
        // While they are written, the replies count as waiting for the client: a subscriber that
        // stops reading is then over its limit as its publishers queue more, and is closed (the
        // kill ends a write that would wait for it forever).
        let handle = &self.client.handle;
        handle.omem.fetch_add(n, Ordering::Relaxed);
        let writer = &mut self.writer;
        // The flush is a no-op on a TCP socket; a TLS stream may hold the last record until it.
        let write = async move {
            writer.write_all(buf).await?;
            writer.flush().await
        };
        let written = tokio::select! {
            biased;
            written = write => written.is_ok(),
            _ = handle.kill.notified() => false,
        };
        handle.omem.fetch_sub(n, Ordering::Relaxed);
        if !written || handle.killed.load(Ordering::Acquire) {
            return Err(Close::Normal);
        }
        self.out.release();
        Ok(())
    }
}
