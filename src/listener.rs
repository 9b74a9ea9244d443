//! Accepting connections: the bind addresses, `maxclients`, protected mode, TCP keepalive, and
//! the TLS handshake of clients on `tls-port`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::server::Server;

/// A listening socket: the plain port's, or the TLS port's with what runs its handshakes.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

/// How long a client on the TLS port has to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds every configured address, on `port` and on `tls-port` (each when not 0). A leading `-`
/// on an address (Redis's "optional" marker) means a failure to bind it is not fatal.
pub async fn bind(server: &Server) -> std::io::Result<Vec<Listener>> {
    let (addrs, port, tls_port) = {
        let c = server.config.read();
        (c.bind.clone(), c.port, c.tls_port)
    };
    let acceptor = server.tls.get().and_then(|tls| tls.acceptor());
    let mut listeners = Vec::new();
    for (port, tls) in [(port, None), (tls_port, acceptor)] {
        if port == 0 {
            continue;
        }
        for addr in &addrs {
            if let Some(tcp) = bind_one(server, addr, port).await? {
                listeners.push(Listener { tcp, tls: tls.clone() });
            }
        }
    }
    Ok(listeners)
}

/// The address to listen on for one `bind` entry, and whether it is optional (a leading `-`).
fn target(addr: &str, port: u16) -> (String, bool) {
    let (optional, host) = match addr.strip_prefix('-') {
        Some(h) => (true, h),
        None => (false, addr),
    };
    let host = if host == "*" { "0.0.0.0" } else { host };
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    (target, optional)
}

async fn bind_one(server: &Server, addr: &str, port: u16) -> std::io::Result<Option<TcpListener>> {
    let (target, optional) = target(addr, port);
    match TcpListener::bind(&target).await {
        Ok(l) => Ok(Some(l)),
        Err(e) if optional => {
            server.log.notice(&format!("Could not bind optional address {target}: {e}"));
            Ok(None)
        }
        Err(e) => {
            Err(std::io::Error::new(e.kind(), format!("Could not create server TCP listening socket {target}: {e}")))
        }
    }
}

/// The accept loops running, each with whether it serves the TLS port.
#[derive(Default)]
pub struct AcceptLoops {
    loops: parking_lot::Mutex<Vec<(bool, tokio::task::AbortHandle)>>,
}

/// Starts accepting clients on `listeners` (on the running tokio runtime).
pub fn start(server: &Arc<Server>, listeners: Vec<Listener>) {
    let mut loops = server.accepting.loops.lock();
    for listener in listeners {
        let tls = listener.tls.is_some();
        loops.push((tls, tokio::spawn(accept_loop(server.clone(), listener)).abort_handle()));
    }
}

/// CONFIG SET port: binds every `bind` address on the new `port` at once (0: none), as Redis
/// does before it lets its old sockets go, so that a port that cannot be listened on fails the
/// CONFIG SET, which then changes nothing. The new sockets are handed to [`replace_plain`] once
/// the configuration is committed. Must run on the tokio runtime.
pub fn bind_port_now(log: &crate::log::Logger, addrs: &[String], port: u16) -> std::io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    if port == 0 {
        return Ok(listeners);
    }
    for addr in addrs {
        let (target, optional) = target(addr, port);
        let bound = std::net::TcpListener::bind(&target).and_then(|l| {
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        });
        match bound {
            Ok(tcp) => listeners.push(Listener { tcp, tls: None }),
            Err(e) if optional => log.notice(&format!("Could not bind optional address {target}: {e}")),
            Err(e) => {
                log.warning(&format!("Could not create server TCP listening socket {target}: {e}"));
                return Err(e);
            }
        }
    }
    Ok(listeners)
}

/// Stops accepting on the plain port's old sockets (closing them) and accepts on `listeners`;
/// connected clients stay connected. The TLS port is left as it is.
pub fn replace_plain(server: &Arc<Server>, listeners: Vec<Listener>) {
    server.accepting.loops.lock().retain(|(tls, handle)| {
        if !tls {
            handle.abort();
        }
        *tls
    });
    start(server, listeners);
}

/// Accepts clients on `listener` forever.
pub async fn accept_loop(server: Arc<Server>, listener: Listener) {
    loop {
        let (socket, peer) = match listener.tcp.accept().await {
            Ok(s) => s,
            Err(e) => {
                server.log.warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        server.stats.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(refusal) = refuse(&server, &peer) {
            server.stats.rejected_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                let mut socket = socket;
                let _ = socket.write_all(refusal.as_bytes()).await;
            });
            continue;
        }
        set_keepalive(&server, &socket);
        match &listener.tls {
            None => {
                tokio::spawn(crate::connection::serve(server.clone(), socket));
            }
            Some(acceptor) => {
                tokio::spawn(handshake(server.clone(), acceptor.clone(), socket, peer));
            }
        }
    }
}

/// Runs a TLS client's handshake, then serves it. A client that fails it (no certificate, one
/// no trusted authority signed, not TLS at all) is logged, as Redis logs it, and dropped.
async fn handshake(server: Arc<Server>, acceptor: TlsAcceptor, socket: TcpStream, peer: SocketAddr) {
    let error = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => return crate::connection::serve_tls(server, stream).await,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "handshake timed out".to_string(),
    };
    let message = format!("Error accepting a client connection: {error} (addr={peer})");
    server.log.log(crate::config::LogLevel::Verbose, &message);
}

fn refuse(server: &Server, peer: &SocketAddr) -> Option<String> {
    let c = server.config.read();
    if server.clients.len() >= c.maxclients {
        return Some("-ERR max number of clients reached\r\n".into());
    }
    if c.protected_mode && !c.bind_explicit && server.acl.default_user().rules().nopass && !peer.ip().is_loopback() {
        return Some("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n".into());
    }
    None
}

fn set_keepalive(server: &Server, socket: &TcpStream) {
    let secs = server.config.read().tcp_keepalive;
    if secs > 0 {
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(secs));
        let _ = socket2::SockRef::from(socket).set_tcp_keepalive(&keepalive);
    }
}
