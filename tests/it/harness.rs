//! Starts the real `meshkv-server` binary on a free loopback port and talks to it over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running meshkv-server, killed when dropped.
pub struct TestServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working directory (a fresh temp dir unless given).
    pub dir: PathBuf,
    /// Remove `dir` when dropped (not for a directory the test handed in).
    owns_dir: bool,
}

/// True if the server behind `stream` reports process id `pid` (INFO server).
fn serves_pid(mut stream: TcpStream, pid: u32) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if text.starts_with("-NOAUTH") {
            return true; // a password-protected server: cannot tell, assume ours
        }
        if let Some(line) = text.lines().find(|l| l.starts_with("process_id:")) {
            return line["process_id:".len()..].trim() == pid.to_string();
        }
    }
    false
}

/// The binary under test: `MESHKV_SERVER_BIN` when set (to run these tests against another build,
/// say the one before a fix), else the one this crate built.
pub fn server_binary() -> std::ffi::OsString {
    std::env::var_os("MESHKV_SERVER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_meshkv-server").into())
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestServer {
    /// Starts a server with default configuration.
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra `--directive value` arguments.
    pub fn start_with(extra: &[&str]) -> TestServer {
        Self::start_full(None, extra)
    }

    /// Starts a server from a config file plus extra arguments.
    pub fn start_full(config: Option<&std::path::Path>, extra: &[&str]) -> TestServer {
        Self::launch(config, None, extra)
    }

    /// Starts a server working in `dir`, which outlives it (restart tests start the next one there).
    pub fn start_in(dir: &std::path::Path, extra: &[&str]) -> TestServer {
        Self::launch(None, Some(dir), extra)
    }

    /// Starts a server on a given port, working in `dir` (a restart where its peers expect it).
    pub fn start_at(dir: &std::path::Path, port: u16, extra: &[&str]) -> TestServer {
        Self::launch_on(None, Some(dir), Some(port), extra)
    }

    /// Starts a server from a config file on the port that file names.
    pub fn start_config_at(config: &std::path::Path, port: u16, extra: &[&str]) -> TestServer {
        Self::launch_on(Some(config), None, Some(port), extra)
    }

    fn launch(config: Option<&std::path::Path>, given_dir: Option<&std::path::Path>, extra: &[&str]) -> TestServer {
        Self::launch_on(config, given_dir, None, extra)
    }

    fn launch_on(
        config: Option<&std::path::Path>,
        given_dir: Option<&std::path::Path>,
        fixed_port: Option<u16>,
        extra: &[&str],
    ) -> TestServer {
        for _ in 0..5 {
            let port = fixed_port.unwrap_or_else(free_port);
            let dir = match given_dir {
                Some(d) => d.to_path_buf(),
                None => std::env::temp_dir().join(format!("meshkv-it-{}-{port}", std::process::id())),
            };
            std::fs::create_dir_all(&dir).unwrap();
            let mut cmd = Command::new(server_binary());
            if let Some(c) = config {
                cmd.arg(c);
            }
            cmd.args(["--port", &port.to_string(), "--dir", dir.to_str().unwrap()]).args(extra);
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            let mut child = cmd.spawn().expect("meshkv-server starts");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
                    // Another test's server may have taken the same free port first: make sure the
                    // one answering is ours.
                    if serves_pid(stream, child.id()) {
                        return TestServer { child, port, dir, owns_dir: given_dir.is_none() };
                    }
                    break;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("meshkv-server did not start");
    }

    /// A redis-rs connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
    }

    /// A raw TCP connection (for exact-bytes tests).
    pub fn raw(&self) -> RawConn {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        RawConn { s }
    }

    /// True while the process is alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`TERM`, `KILL`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Waits up to `timeout` for the process to exit; true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if !self.alive() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A raw RESP connection.
pub struct RawConn {
    s: TcpStream,
}

impl RawConn {
    /// Wraps a connected stream (5 s read timeout).
    pub fn from_stream(s: TcpStream) -> RawConn {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        RawConn { s }
    }

    /// Sends bytes, telling whether the server took them all (it may close the connection
    /// midway).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.s.write_all(bytes)
    }

    /// One read: `Some(n)` bytes (`Some(0)` when the server closed or reset the connection),
    /// `None` when nothing came within the read timeout.
    pub fn read_some(&mut self, buf: &mut [u8]) -> Option<usize> {
        match self.s.read(buf) {
            Ok(n) => Some(n),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
            Err(_) => Some(0),
        }
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Sends a command as a RESP multibulk.
    pub fn cmd(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
        }
        self.send(&out);
    }

    /// Reads until `n` bytes arrived or the connection closed/timed out; returns what came.
    pub fn read_exactly(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match self.s.read(&mut buf[got..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => got += k,
            }
        }
        buf.truncate(got);
        buf
    }

    /// Reads one complete RESP reply (any type, nested) and returns its raw bytes.
    pub fn reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_value(&mut out);
        out
    }

    /// Sends a command and returns its reply as text.
    pub fn call(&mut self, args: &[&str]) -> String {
        self.cmd(args);
        String::from_utf8_lossy(&self.reply()).into_owned()
    }

    /// True if the server closed the connection (reads EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.s.read(&mut b), Ok(0))
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while let Ok(1) = self.s.read(&mut b) {
            line.push(b[0]);
            if line.ends_with(b"\r\n") {
                break;
            }
        }
        out.extend_from_slice(&line);
        line
    }

    fn read_value(&mut self, out: &mut Vec<u8>) {
        let line = self.read_line(out);
        if line.len() < 3 {
            return;
        }
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2]).unwrap_or("0").parse().unwrap_or(0);
        match line[0] {
            b'$' | b'=' | b'!' if n >= 0 => {
                let data = self.read_exactly(n as usize + 2);
                out.extend_from_slice(&data);
            }
            b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| self.read_value(out)),
            b'%' => (0..2 * n.max(0)).for_each(|_| self.read_value(out)),
            _ => {}
        }
    }
}

/// A fresh directory that outlives the servers started in it (restart tests), under the system's
/// temporary directory.
pub fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshkv-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// DEBUG DIGEST of the dataset behind `con`.
pub fn digest(con: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(con).unwrap()
}

/// The value of `field` in one CLIENT LIST / CLIENT INFO line.
pub fn client_field(line: &str, field: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        .unwrap_or_else(|| panic!("{field} in {line}"))
        .to_string()
}

/// One field of one INFO section.
pub fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .to_string()
}

/// A TCP proxy in front of a server, which a test can cut (every connection through it is closed
/// and new ones are refused) and heal: a network partition between two nodes, since this kernel has
/// no netem. Replication links go through it when a node's `REPLICAOF` names the proxy's port.
pub struct Proxy {
    /// The port to connect to instead of the server's.
    pub port: u16,
    state: std::sync::Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    cut: std::sync::atomic::AtomicBool,
    stopped: std::sync::atomic::AtomicBool,
    open: std::sync::Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// A proxy forwarding to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(ProxyState::default());
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stopped.load(Ordering::Acquire) {
                    break;
                }
                let Ok(client) = client else { continue };
                if shared.cut.load(Ordering::Acquire) {
                    continue; // dropped: the connection is refused
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let pipes = [(client.try_clone(), server.try_clone()), (server.try_clone(), client.try_clone())];
                shared.open.lock().unwrap().extend([client, server]);
                for pipe in pipes {
                    if let (Ok(mut from), Ok(mut to)) = pipe {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Both);
                            let _ = from.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
            }
        });
        Proxy { port, state }
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.state.cut.store(true, std::sync::atomic::Ordering::Release);
        for stream in self.state.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.state.cut.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, std::sync::atomic::Ordering::Release);
        self.cut();
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop so it ends
    }
}

/// A real `redis-server` (7.0, from PATH) on a free loopback port, for differential checks:
/// started with `--save "" --appendonly no` and the extra `--directive value` arguments, in a
/// directory of its own; killed when dropped. Fails the test when redis-server is missing.
pub struct RealRedis {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working directory.
    pub dir: PathBuf,
}

impl RealRedis {
    /// Starts redis-server with a config file holding `conf` (lines) and `extra` arguments.
    pub fn start(conf: &str, extra: &[&str]) -> RealRedis {
        let port = free_port();
        let dir = workdir(&format!("redis-{port}"));
        let file = dir.join("redis.conf");
        std::fs::write(&file, conf).unwrap();
        let mut cmd = Command::new("redis-server");
        cmd.arg(&file).args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir", dir.to_str().unwrap()]);
        cmd.args(["--save", "", "--appendonly", "no"]).args(extra);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("redis-server 7.0 is on PATH (tests/setup.sh installs it)");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return RealRedis { child, port, dir };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start");
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> RawConn {
        RawConn::from_stream(TcpStream::connect(("127.0.0.1", self.port)).unwrap())
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Acknowledged (key, value) writes, per client.
pub type Acked = Vec<Vec<(String, String)>>;

/// Clients write unique keys as fast as they can and remember what was acknowledged, until
/// `stop` is set (they also stop when the server goes).
pub fn writers(
    server: &TestServer,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> (Vec<std::thread::JoinHandle<()>>, Arc<Mutex<Acked>>) {
    let acked: Arc<Mutex<Acked>> = Arc::new(Mutex::new(vec![Vec::new(); clients]));
    let threads = (0..clients)
        .map(|c| {
            let (stop, acked) = (stop.clone(), acked.clone());
            let mut con = server.client();
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let (k, v) = (format!("c{c}:{i}"), format!("value-{c}-{i}"));
                    match redis::Commands::set::<_, _, ()>(&mut con, &k, &v) {
                        Ok(()) => acked.lock().unwrap()[c].push((k, v)),
                        Err(_) => break, // the server died: this write was never acknowledged
                    }
                }
            })
        })
        .collect();
    (threads, acked)
}

/// Writes from `clients` clients for `run_for`, then `kill -9`. The acknowledged writes and the
/// time of the kill.
pub fn write_then_kill(server: &TestServer, clients: usize, run_for: Duration) -> (Acked, Instant) {
    let stop = Arc::new(AtomicBool::new(false));
    let (threads, acked) = writers(server, clients, &stop);
    std::thread::sleep(run_for);
    let killed_at = Instant::now();
    server.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    (acked, killed_at)
}
