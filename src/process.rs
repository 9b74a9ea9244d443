//! How the server process meets whatever runs it: `daemonize` (detach into the background),
//! `pidfile`, and `supervised` (systemd's readiness notification, upstart's stop signal), as
//! Redis 7 does them, so that a Redis or KeyDB service file works unchanged.
//!
//! Everything here runs in `main`, before the runtime starts threads (a fork copies only the
//! calling thread) or after it has stopped.

use std::io;
use std::path::{Path, PathBuf};

/// `supervised`: how the process tells a supervisor it is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervised {
    /// No supervision interaction.
    No,
    /// Upstart: the process stops itself (SIGSTOP) to say it has started (`expect stop`).
    Upstart,
    /// systemd: `READY=1` and `STOPPING=1` to `$NOTIFY_SOCKET` (`Type=notify`).
    Systemd,
    /// Upstart if `$UPSTART_JOB` is set, else systemd if `$NOTIFY_SOCKET` is.
    Auto,
}

impl Supervised {
    /// Reads the directive's value.
    pub fn parse(value: &str) -> Option<Supervised> {
        Some(match value.to_ascii_lowercase().as_str() {
            "no" => Supervised::No,
            "upstart" => Supervised::Upstart,
            "systemd" => Supervised::Systemd,
            "auto" => Supervised::Auto,
            _ => return None,
        })
    }

    /// The directive's value.
    pub fn name(self) -> &'static str {
        match self {
            Supervised::No => "no",
            Supervised::Upstart => "upstart",
            Supervised::Systemd => "systemd",
            Supervised::Auto => "auto",
        }
    }
}

/// The supervisor found at start: what readiness and shutdown are told to.
pub enum Supervisor {
    /// None (or none found): nothing to tell.
    None,
    /// Upstart, already told (the process stopped itself once).
    Upstart,
    /// systemd, through the datagram socket named by `$NOTIFY_SOCKET`.
    Systemd(Notifier),
}

impl Supervisor {
    /// Finds the supervisor `mode` asks for, as Redis's `redisIsSupervised`: `auto` looks at the
    /// environment; a requested one whose variable is missing is not used (`log` says so). Upstart
    /// is told at once: the process stops itself, and upstart resumes it.
    pub fn detect(mode: Supervised, log: &dyn Fn(&str)) -> Supervisor {
        let mode = match mode {
            Supervised::Auto if std::env::var_os("UPSTART_JOB").is_some() => Supervised::Upstart,
            Supervised::Auto if std::env::var_os("NOTIFY_SOCKET").is_some() => Supervised::Systemd,
            mode => mode,
        };
        match mode {
            Supervised::Upstart => {
                if std::env::var_os("UPSTART_JOB").is_none() {
                    log("upstart supervision requested, but UPSTART_JOB not found!");
                    return Supervisor::None;
                }
                log("supervised by upstart, will stop to signal readiness.");
                // SAFETY: raise() only sends a signal to this process.
                unsafe { libc::raise(libc::SIGSTOP) };
                std::env::remove_var("UPSTART_JOB");
                Supervisor::Upstart
            }
            Supervised::Systemd => match Notifier::from_env() {
                Some(notifier) if notifier.send("STATUS=meshkv is loading...\n").is_ok() => {
                    log("Supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and \
                         TimeoutStopSec in your service unit.");
                    Supervisor::Systemd(notifier)
                }
                _ => {
                    log("systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!");
                    Supervisor::None
                }
            },
            Supervised::No | Supervised::Auto => Supervisor::None,
        }
    }

    /// True if a supervisor runs the process: then it stays in the foreground whatever
    /// `daemonize` says, as Redis does.
    pub fn found(&self) -> bool {
        !matches!(self, Supervisor::None)
    }

    /// The server accepts connections.
    pub fn ready(&self) {
        if let Supervisor::Systemd(n) = self {
            let _ = n.send("STATUS=Ready to accept connections\nREADY=1\n");
        }
    }

    /// The server is shutting down.
    pub fn stopping(&self) {
        if let Supervisor::Systemd(n) = self {
            let _ = n.send("STOPPING=1\n");
        }
    }
}

/// systemd's notification socket (`sd_notify`): a Unix datagram socket, by path or, when the
/// name starts with `@`, in the abstract namespace.
pub struct Notifier {
    target: std::os::unix::net::SocketAddr,
    socket: std::os::unix::net::UnixDatagram,
}

impl Notifier {
    /// The socket `$NOTIFY_SOCKET` names, if it is set and usable.
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let name = name.to_str()?;
        let target = match name.strip_prefix('@') {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).ok()?
            }
            None => std::os::unix::net::SocketAddr::from_pathname(name).ok()?,
        };
        let socket = std::os::unix::net::UnixDatagram::unbound().ok()?;
        Some(Notifier { target, socket })
    }

    /// Sends one notification (`KEY=value` lines).
    pub fn send(&self, message: &str) -> io::Result<()> {
        self.socket.send_to_addr(message.as_bytes(), &self.target).map(|_| ())
    }
}

/// `daemonize yes`: forks; the parent exits at once with status 0, the child goes on in a new
/// session with standard input and output on /dev/null (as Redis's `daemonize()`). Must run before
/// any thread is started.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: called from `main` before any other thread exists, so the child is a complete copy
    // of the process; the parent only exits.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: setsid and dup2 act on this process's own session and descriptors.
    unsafe {
        libc::setsid();
        let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
        use std::os::fd::AsRawFd;
        for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            libc::dup2(null.as_raw_fd(), fd);
        }
    }
    Ok(())
}

/// Where a daemonized server writes its pid when no `pidfile` is configured (Redis writes
/// /var/run/redis.pid).
pub const DEFAULT_PIDFILE: &str = "/var/run/meshkv.pid";

/// The pid file, written at start and removed at a clean shutdown.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id to `path`.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile { path: path.to_path_buf() })
    }

    /// Removes the file (a clean shutdown).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_notifications_reach_a_real_datagram_socket() {
        let dir = std::env::temp_dir().join(format!("meshkv-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        listener.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let notifier = Notifier {
            target: std::os::unix::net::SocketAddr::from_pathname(&path).unwrap(),
            socket: std::os::unix::net::UnixDatagram::unbound().unwrap(),
        };
        let supervisor = Supervisor::Systemd(notifier);
        supervisor.ready();
        supervisor.stopping();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=Ready to accept connections\nREADY=1\n");
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn supervised_values_as_redis() {
        for name in ["no", "upstart", "systemd", "auto"] {
            assert_eq!(Supervised::parse(&name.to_uppercase()).map(Supervised::name), Some(name));
        }
        assert_eq!(Supervised::parse("yes"), None);
    }
}
