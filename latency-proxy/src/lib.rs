//! meshkv-latency-proxy: latency between nodes, made by a TCP proxy.
//!
//! The kernels meshkv is tested on have no `netem`, so a delay between two nodes cannot come from
//! the network stack. This crate forwards TCP connections and holds every chunk it reads for a
//! set time before writing it on, in each direction, so a link through it behaves like one with
//! that one-way delay (a round trip costs twice). The multi-region Docker demo puts one in front
//! of each link between regions; the Jepsen-style suite puts them on chosen links and changes the
//! delay while a test runs.
//!
//! Owns: accepting, connecting upstream, and the delayed copy in both directions. Must never look
//! inside the bytes (it knows nothing of RESP or of replication) and never reorder or drop them:
//! a delayed link is still a TCP link, only slower.

mod pump;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// The delay a proxy adds, changeable while connections are open: a change applies to the bytes
/// read after it (bytes already held keep the time they were given, so order is never broken).
#[derive(Debug, Default)]
pub struct Delay {
    base_us: AtomicU64,
    jitter_us: AtomicU64,
}

impl Delay {
    pub fn new(base: Duration, jitter: Duration) -> Arc<Delay> {
        let delay = Arc::new(Delay::default());
        delay.set(base, jitter);
        delay
    }

    /// Sets the one-way delay to `base` plus a uniformly random extra of at most `jitter` per
    /// chunk read.
    pub fn set(&self, base: Duration, jitter: Duration) {
        self.base_us.store(base.as_micros() as u64, Ordering::Relaxed);
        self.jitter_us.store(jitter.as_micros() as u64, Ordering::Relaxed);
    }

    /// The current `(base, jitter)`.
    pub fn get(&self) -> (Duration, Duration) {
        (
            Duration::from_micros(self.base_us.load(Ordering::Relaxed)),
            Duration::from_micros(self.jitter_us.load(Ordering::Relaxed)),
        )
    }

    /// The delay for one chunk: base plus its random share of the jitter.
    fn sample(&self) -> Duration {
        let (base, jitter) = self.get();
        if jitter.is_zero() {
            return base;
        }
        base + Duration::from_micros(rand::random_range(0..=jitter.as_micros() as u64))
    }
}

/// One proxied link: connections accepted on `listener` are forwarded to `upstream`.
pub struct Link {
    listener: TcpListener,
    upstream: String,
    delay: Arc<Delay>,
}

impl Link {
    /// Listens on `listen`; `upstream` is `host:port`, resolved again for every connection (a
    /// container that restarts under the same name may come back with another address).
    pub async fn bind(listen: &str, upstream: &str, delay: Arc<Delay>) -> io::Result<Link> {
        let listener = TcpListener::bind(listen).await?;
        Ok(Link { listener, upstream: upstream.to_string(), delay })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and forwards until the task is dropped. A connection whose upstream cannot be
    /// reached is closed at once, as the unreachable node itself would look to the client.
    pub async fn run(self) -> io::Result<()> {
        loop {
            let (client, _) = self.listener.accept().await?;
            let upstream = self.upstream.clone();
            let delay = self.delay.clone();
            tokio::spawn(async move {
                match TcpStream::connect(upstream.as_str()).await {
                    Ok(server) => pump::both_ways(client, server, delay).await,
                    Err(e) => eprintln!("meshkv-latency-proxy: cannot reach {upstream}: {e}"),
                }
            });
        }
    }
}

/// Serves the control protocol on `listener`: each line is `delay BASE_MS [JITTER_MS]` (answered
/// `OK`) or `get` (answered `delay BASE_MS JITTER_MS`); anything else is answered `ERR ...`. One
/// control port steers every link that shares `delay`.
pub async fn control(listener: TcpListener, delay: Arc<Delay>) -> io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    loop {
        let (stream, _) = listener.accept().await?;
        let delay = delay.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let answer = match parse_control(&line) {
                    Ok(Some((base, jitter))) => {
                        delay.set(base, jitter);
                        "OK".to_string()
                    }
                    Ok(None) => {
                        let (base, jitter) = delay.get();
                        format!("delay {} {}", base.as_millis(), jitter.as_millis())
                    }
                    Err(e) => format!("ERR {e}"),
                };
                if write.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// `Ok(Some(new delay))` for `delay ...`, `Ok(None)` for `get`.
fn parse_control(line: &str) -> Result<Option<(Duration, Duration)>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ms = |w: &str| w.parse::<u64>().map(Duration::from_millis).map_err(|_| format!("not a number of ms: {w}"));
    match words.as_slice() {
        ["get"] => Ok(None),
        ["delay", base] => Ok(Some((ms(base)?, Duration::ZERO))),
        ["delay", base, jitter] => Ok(Some((ms(base)?, ms(jitter)?))),
        _ => Err("expected 'delay BASE_MS [JITTER_MS]' or 'get'".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines() {
        assert_eq!(parse_control("get"), Ok(None));
        assert_eq!(parse_control("delay 40"), Ok(Some((Duration::from_millis(40), Duration::ZERO))));
        assert_eq!(parse_control(" delay 40 10 "), Ok(Some((Duration::from_millis(40), Duration::from_millis(10)))));
        assert!(parse_control("delay x").is_err());
        assert!(parse_control("speed 3").is_err());
    }

    #[test]
    fn jitter_stays_in_range() {
        let delay = Delay::new(Duration::from_millis(50), Duration::from_millis(20));
        for _ in 0..1000 {
            let d = delay.sample();
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(70), "{d:?}");
        }
    }
}
