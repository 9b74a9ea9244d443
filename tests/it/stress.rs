//! A stress test: many clients at once run random multi-key commands and transactions, mixed with
//! the whole-keyspace commands (BGSAVE, INFO, KEYS, SCAN, FLUSHALL, SWAPDB, COPY, MOVE, DBSIZE,
//! DEBUG DIGEST), inside and outside MULTI, for a bounded time.
//!
//! Two things can fail it:
//! - a hang: every reply must arrive within [`DEADLINE`]. A reply that does not is a failure, not
//!   something to retry (a worker waiting on itself waits forever, and takes every client of that
//!   worker and every command on that shard with it);
//! - an atomicity break: clients move amounts between the accounts of a bank in database 0 with
//!   `MULTI DECRBY a x INCRBY b x EXEC`, and audit it with `MULTI MGET <every account> EXEC`. The
//!   balances start at zero (a missing key reads as nil, that is zero), and a transfer keeps their
//!   sum, so every audit must add up to zero, FLUSHALL or not (a flush takes all accounts at once).
//!
//! The seed of each client's generator is printed on failure; the mix is fixed below.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::harness::TestServer;

/// The longest any reply may take on this 2-core machine with every client busy.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long the clients run.
const RUN_FOR: Duration = Duration::from_secs(8);
/// Concurrent clients.
const CLIENTS: u64 = 12;
/// Accounts of the bank in database 0.
const ACCOUNTS: usize = 8;
/// Other keys the random commands write, in databases 0 to 2.
const KEYS: usize = 16;

/// One client's connection: sends a command, reads one whole reply, within the deadline.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

/// A reply, enough of it to check what the test checks.
#[derive(Debug)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Client {
    fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        Client { reader: BufReader::new(s.try_clone().unwrap()), writer: s }
    }

    fn call(&mut self, args: &[String]) -> Result<Reply, String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.writer.write_all(&out).map_err(|e| format!("write: {e}"))?;
        let started = Instant::now();
        let reply = self.read();
        if started.elapsed() > DEADLINE {
            return Err(format!("{args:?} took {:?}", started.elapsed()));
        }
        reply.map_err(|e| format!("{args:?}: no reply within {DEADLINE:?} ({e})"))
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        Ok(line.trim_end().to_string())
    }

    fn read(&mut self) -> std::io::Result<Reply> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(1);
        let n = || rest.parse::<i64>().unwrap_or(-1);
        Ok(match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(n()),
            "$" if n() < 0 => Reply::Bulk(None),
            "$" => {
                let mut data = vec![0u8; n() as usize + 2];
                std::io::Read::read_exact(&mut self.reader, &mut data)?;
                data.truncate(n() as usize);
                Reply::Bulk(Some(data))
            }
            "*" if n() < 0 => Reply::Array(None),
            "*" => Reply::Array(Some((0..n()).map(|_| self.read()).collect::<std::io::Result<_>>()?)),
            _ => Reply::Error(format!("unexpected reply line {line:?}")),
        })
    }
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Sends `commands` as one MULTI ... EXEC block and returns EXEC's reply.
fn transaction(c: &mut Client, commands: &[Vec<String>]) -> Result<Reply, String> {
    c.call(&cmd(&["MULTI"]))?;
    for command in commands {
        match c.call(command)? {
            Reply::Status(s) if s == "QUEUED" => {}
            other => return Err(format!("{command:?} was not queued: {other:?}")),
        }
    }
    c.call(&cmd(&["EXEC"]))
}

/// A random command of the mix (not a bank one).
fn random_command(rng: &mut StdRng) -> Vec<String> {
    let key = |rng: &mut StdRng| format!("k{}", rng.random_range(0..KEYS));
    let (a, b) = (key(rng), key(rng));
    let v = rng.random_range(0..1000).to_string();
    match rng.random_range(0..100) {
        0..=11 => cmd(&["SET", &a, &v]),
        12..=17 => cmd(&["MSET", &a, &v, &b, &v]),
        18..=23 => cmd(&["LPUSH", &a, &v]),
        24..=29 => cmd(&["SADD", &a, &v]),
        30..=33 => cmd(&["SUNIONSTORE", &a, &a, &b]),
        34..=37 => cmd(&["RENAME", &a, &b]),
        38..=41 => cmd(&["DEL", &a, &b]),
        42..=45 => cmd(&["MGET", &a, &b]),
        46..=49 => cmd(&["COPY", &a, &b, "DB", "1", "REPLACE"]),
        50..=53 => cmd(&["MOVE", &a, "2"]),
        54..=57 => cmd(&["SWAPDB", "1", "2"]),
        58..=63 => cmd(&["INFO"]),
        64..=67 => cmd(&["INFO", "keyspace"]),
        68..=71 => cmd(&["KEYS", "*"]),
        72..=75 => cmd(&["SCAN", "0", "COUNT", "50"]),
        76..=79 => cmd(&["DBSIZE"]),
        80..=82 => cmd(&["BGSAVE"]),
        83..=85 => cmd(&["DEBUG", "DIGEST"]),
        86..=88 => cmd(&["RANDOMKEY"]),
        89..=90 => cmd(&["FLUSHALL"]),
        91..=93 => cmd(&["EXPIRE", &a, "1"]),
        _ => cmd(&["GET", &a]),
    }
}

/// Amount in an MGET element: nil is zero.
fn balance(reply: &Reply) -> Result<i64, String> {
    match reply {
        Reply::Bulk(None) => Ok(0),
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).parse().map_err(|_| format!("not a number: {reply:?}")),
        other => Err(format!("unexpected MGET element {other:?}")),
    }
}

/// One client's run; returns how many commands it sent.
fn run_client(port: u16, seed: u64, stop: &AtomicBool) -> Result<u64, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut c = Client::connect(port);
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("bank:{i}")).collect();
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        match rng.random_range(0..10) {
            0..=2 => {
                let (from, to) = (rng.random_range(0..ACCOUNTS), rng.random_range(0..ACCOUNTS));
                let x = rng.random_range(1..100).to_string();
                let reply =
                    transaction(&mut c, &[cmd(&["DECRBY", &accounts[from], &x]), cmd(&["INCRBY", &accounts[to], &x])])?;
                if !matches!(&reply, Reply::Array(Some(items)) if items.len() == 2) {
                    return Err(format!("transfer: {reply:?}"));
                }
                sent += 4;
            }
            3 => {
                let mut mget = vec!["MGET".to_string()];
                mget.extend(accounts.iter().cloned());
                let reply = transaction(&mut c, &[mget])?;
                let Reply::Array(Some(items)) = &reply else { return Err(format!("audit: {reply:?}")) };
                let Some(Reply::Array(Some(balances))) = items.first() else {
                    return Err(format!("audit: {reply:?}"));
                };
                let sum = balances.iter().map(balance).sum::<Result<i64, String>>()?;
                if sum != 0 {
                    return Err(format!("an audit inside MULTI saw the bank's accounts add up to {sum}: {reply:?}"));
                }
                sent += 3;
            }
            4..=5 => {
                // Any commands at all inside MULTI, whole-keyspace ones included.
                let commands: Vec<Vec<String>> =
                    (0..rng.random_range(1..6)).map(|_| random_command(&mut rng)).collect();
                let reply = transaction(&mut c, &commands)?;
                if !matches!(&reply, Reply::Array(Some(items)) if items.len() == commands.len()) {
                    return Err(format!("EXEC of {commands:?}: {reply:?}"));
                }
                sent += commands.len() as u64 + 2;
            }
            _ => {
                let command = random_command(&mut rng);
                let reply = c.call(&command)?;
                if let Reply::Error(e) = &reply {
                    let expected = e.starts_with("WRONGTYPE")
                        || e.starts_with("ERR no such key")
                        || e.starts_with("ERR Background save already in progress")
                        || e.starts_with("ERR value is not an integer");
                    if !expected {
                        return Err(format!("{command:?}: unexpected error {e}"));
                    }
                }
                sent += 1;
            }
        }
    }
    Ok(sent)
}

#[test]
fn concurrent_transactions_and_whole_keyspace_commands_never_hang_or_break_atomicity() {
    let server = TestServer::start();
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let base_seed: u64 = std::env::var("MESHKV_STRESS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (stop, total) = (stop.clone(), total.clone());
            let seed = base_seed * 1000 + i;
            std::thread::spawn(move || {
                let result = run_client(port, seed, &stop);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed); // one failure ends the run
                }
                total.fetch_add(*result.as_ref().unwrap_or(&0), Ordering::Relaxed);
                result.map_err(|e| format!("client seed {seed} (MESHKV_STRESS_SEED={base_seed}): {e}"))
            })
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < RUN_FOR && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = threads.into_iter().filter_map(|t| t.join().unwrap().err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let total = total.load(Ordering::Relaxed);
    assert!(total > 1000, "the clients got little done ({total} commands): something is slow");

    // The node is whole: a fresh client is served at once, on every database.
    let mut c = Client::connect(port);
    for db in 0..3 {
        assert!(matches!(c.call(&cmd(&["SELECT", &db.to_string()])), Ok(Reply::Status(_))));
        assert!(matches!(c.call(&cmd(&["DBSIZE"])), Ok(Reply::Int(n)) if n >= 0));
    }
    eprintln!("stress: {CLIENTS} clients sent {total} commands in {:?}", started.elapsed());
}
