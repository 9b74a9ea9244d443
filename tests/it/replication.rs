//! Active-active replication between real meshkv-server processes on loopback: convergence of
//! concurrent writes, partial resync after a restart, healed partitions, full sync under load,
//! chains, the clock-drift bound, plain read-only replicas, and authentication of links.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use redis::Commands;

use crate::harness::{digest, info_field, workdir, Proxy, TestServer};

/// An active replica that accepts several peers, without snapshots.
pub(crate) fn master(extra: &[&str]) -> TestServer {
    let mut args = vec!["--active-replica", "yes", "--multi-master", "yes", "--save", ""];
    args.extend_from_slice(extra);
    TestServer::start_with(&args)
}

/// An active replica on the FLASH tier (a `db` store in its directory), without snapshots.
pub(crate) const FLASH_MASTER: [&str; 9] =
    ["--active-replica", "yes", "--multi-master", "yes", "--save", "", "--storage-provider", "flash", "db"];

/// Makes `node` pull changes from the server on `port`.
pub(crate) fn pull(node: &TestServer, port: u16) {
    let reply: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(port).query(&mut node.client()).unwrap();
    assert_eq!(reply, "OK");
}

/// Waits until every node has the same digest twice in a row; returns it.
pub(crate) fn converge(nodes: &[&TestServer], timeout: Duration) -> String {
    let mut cons: Vec<_> = nodes.iter().map(|n| n.client()).collect();
    let started = Instant::now();
    let mut last = None;
    loop {
        let digests: Vec<String> = cons.iter_mut().map(digest).collect();
        let equal = digests.windows(2).all(|w| w[0] == w[1]);
        if equal && last.as_ref() == Some(&digests[0]) {
            return digests[0].clone();
        }
        last = equal.then(|| digests[0].clone());
        if started.elapsed() > timeout {
            let peers: Vec<String> =
                cons.iter_mut().map(|c| redis::cmd("INFO").arg("replication").query(c).unwrap()).collect();
            panic!(
                "no convergence after {timeout:?}: digests {digests:?}\nkeys that differ:\n{}\n{}",
                differing_keys(&mut cons),
                peers.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What each node holds of the keys whose values, types or TTLs differ between nodes, a line
/// each: for a failed convergence to say where the nodes disagree.
fn differing_keys(cons: &mut [redis::Connection]) -> String {
    let mut keys = std::collections::BTreeSet::new();
    for con in cons.iter_mut() {
        let names: Vec<String> = redis::cmd("KEYS").arg("*").query(con).unwrap_or_default();
        keys.extend(names);
    }
    let mut lines = Vec::new();
    for key in keys {
        let seen: Vec<String> = cons
            .iter_mut()
            .map(|con| {
                let kind: String = redis::cmd("TYPE").arg(&key).query(con).unwrap_or_default();
                let value: Vec<String> =
                    redis::cmd("DEBUG").arg("DIGEST-VALUE").arg(&key).query(con).unwrap_or_default();
                let value = value.join(",");
                let ttl: i64 = redis::cmd("PTTL").arg(&key).query(con).unwrap_or(-3);
                let shown: String = match kind.as_str() {
                    "string" => redis::cmd("GET").arg(&key).query(con).unwrap_or_default(),
                    _ => String::new(),
                };
                format!(
                    "{kind} {shown:?} ttl {} digest {value}",
                    if ttl >= 0 { "set".to_string() } else { ttl.to_string() }
                )
            })
            .collect();
        if seen.windows(2).any(|w| w[0] != w[1]) {
            lines.push(format!("  {key}: {}", seen.join(" | ")));
        }
    }
    lines.join("\n")
}

/// Waits until `node`'s peer number `i` reports `field=value` in INFO replication.
fn wait_peer(node: &TestServer, i: usize, field: &str, value: &str) -> String {
    let mut con = node.client();
    let started = Instant::now();
    loop {
        let line = info_field(&mut con, "replication", &format!("peer{i}"));
        if line.split(',').any(|kv| kv == format!("{field}={value}")) {
            return line;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "peer{i} never had {field}={value}: {line}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_masters_converge_under_concurrent_writes_to_the_same_keys() {
    let nodes = [master(&[]), master(&[]), master(&[])];
    for a in &nodes {
        for b in &nodes {
            if a.port != b.port {
                pull(a, b.port);
            }
        }
    }
    let written: Arc<Mutex<HashSet<String>>> = Arc::default();
    std::thread::scope(|scope| {
        for (n, node) in nodes.iter().enumerate() {
            let written = written.clone();
            scope.spawn(move || {
                let mut con = node.client();
                let mut rng = rand::rng();
                for i in 0..400 {
                    let key = format!("k{}", rng.random_range(0..40));
                    match rng.random_range(0..10) {
                        0 => {
                            let _: i64 = con.del(&key).unwrap();
                        }
                        1 => {
                            let _: () = con.hset(format!("h{}", rng.random_range(0..5)), "f", n).unwrap();
                        }
                        2 => {
                            let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap_or(());
                        }
                        _ => {
                            let value = format!("node{n}-{i}");
                            written.lock().unwrap().insert(value.clone());
                            let _: () = con.set(&key, &value).unwrap();
                        }
                    }
                }
            });
        }
    });
    converge(&[&nodes[0], &nodes[1], &nodes[2]], Duration::from_secs(20));
    let mut cons: Vec<_> = nodes.iter().map(|n| n.client()).collect();
    let written = written.lock().unwrap();
    for k in 0..40 {
        let key = format!("k{k}");
        let values: Vec<Option<String>> = cons.iter_mut().map(|c| c.get(&key).unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] == w[1]), "{key} differs: {values:?}");
        if let Some(v) = &values[0] {
            assert!(written.contains(v), "{key} holds {v:?}, which no client wrote");
        }
    }
    // Why a value won is visible: the stamp names the node that accepted the write.
    let _: () = cons[1].set("stamped", "x").unwrap();
    let node1 = info_field(&mut cons[1], "replication", "node_id");
    converge(&[&nodes[0], &nodes[1], &nodes[2]], Duration::from_secs(10));
    let stamp: (i64, String, i64, String) = redis::cmd("MESHKV.STAMP").arg("stamped").query(&mut cons[2]).unwrap();
    assert_eq!((stamp.1.as_str(), stamp.3.as_str()), (node1.as_str(), "live"));
    let _: i64 = cons[0].del("stamped").unwrap();
    converge(&[&nodes[0], &nodes[1], &nodes[2]], Duration::from_secs(10));
    let stamp: (i64, String, i64, String) = redis::cmd("MESHKV.STAMP").arg("stamped").query(&mut cons[2]).unwrap();
    assert_eq!(stamp.3, "deleted");
    for con in &mut cons {
        assert_eq!(info_field(con, "replication", "role"), "active-replica");
        assert_eq!(info_field(con, "replication", "connected_slaves"), "2");
        assert_eq!(info_field(con, "replication", "repl_clock_drift_refused"), "0");
        let duplicates: u64 = info_field(con, "replication", "repl_changes_duplicate").parse().unwrap();
        assert!(duplicates > 0, "in a full mesh with relays, changes also arrive the long way round");
    }
}

#[test]
fn a_restarted_node_catches_up_by_partial_resync() {
    let dir = workdir("repl-restart");
    let a = master(&[]);
    let mut b = TestServer::start_in(&dir, &["--active-replica", "yes", "--multi-master", "yes", "--save", ""]);
    let b_port = b.port;
    pull(&a, b_port);
    pull(&b, a.port);
    let mut ca = a.client();
    for i in 0..100 {
        let _: () = ca.set(format!("before{i}"), i).unwrap();
    }
    converge(&[&a, &b], Duration::from_secs(10));
    let _: () = redis::cmd("SHUTDOWN").arg("SAVE").query(&mut b.client()).unwrap_or(());
    assert!(b.wait_exit(Duration::from_secs(10)));
    for i in 0..100 {
        let _: () = ca.set(format!("during{i}"), i).unwrap();
    }
    let _: () = ca.set("before0", "changed").unwrap();
    let b = TestServer::start_at(
        &dir,
        b_port,
        &[
            "--active-replica",
            "yes",
            "--multi-master",
            "yes",
            "--save",
            "",
            "--replicaof",
            "127.0.0.1",
            &a.port.to_string(),
        ],
    );
    let line = wait_peer(&b, 0, "state", "connected");
    assert!(line.contains("sync=partial"), "the restarted node resumed from its watermarks: {line}");
    converge(&[&a, &b], Duration::from_secs(10));
    let mut cb = b.client();
    let v: String = cb.get("before0").unwrap();
    assert_eq!(v, "changed");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut cb).unwrap(), 200);
    // A's link to B came back by itself (backoff and reconnect), and B's writes reach A again.
    let _: () = cb.set("after", "from-b").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    let v: String = ca.get("after").unwrap();
    assert_eq!(v, "from-b");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cut_link_heals_and_converges() {
    let a = master(&["--repl-timeout", "2"]);
    let b = master(&["--repl-timeout", "2"]);
    let to_b = Proxy::start(b.port);
    let to_a = Proxy::start(a.port);
    pull(&a, to_b.port);
    pull(&b, to_a.port);
    let (mut ca, mut cb) = (a.client(), b.client());
    let _: () = ca.set("shared", "first").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    to_a.cut();
    to_b.cut();
    wait_peer(&a, 0, "state", "down");
    for i in 0..200 {
        let _: () = ca.set(format!("a{i}"), i).unwrap();
        let _: () = cb.set(format!("b{i}"), i).unwrap();
    }
    let _: () = ca.set("shared", "from-a").unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let _: () = cb.set("shared", "from-b-later").unwrap();
    let _: i64 = ca.del("b0").unwrap(); // not there yet on a: nothing to delete
    assert_ne!(digest(&mut ca), digest(&mut cb));
    to_a.heal();
    to_b.heal();
    converge(&[&a, &b], Duration::from_secs(15));
    let v: String = ca.get("shared").unwrap();
    assert_eq!(v, "from-b-later", "the later write wins on both sides");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut ca).unwrap(), 401);
}

#[test]
fn a_full_sync_under_concurrent_writes_loses_nothing() {
    // The backlog holds the live writes of the test but not the 20,000 keys before them: the
    // follower needs a full sync.
    let a = master(&["--repl-backlog-size", "256kb"]);
    let b = master(&[]);
    let mut ca = a.client();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.set(format!("base{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut ca).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let _: () = b.client().set("base7", "newer-on-b").unwrap(); // written later than a's: must survive
    let stop = AtomicBool::new(false);
    let last: Mutex<HashMap<String, i64>> = Mutex::default();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut con = a.client();
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("live{}", i % 500);
                let _: () = con.set(&key, i).unwrap();
                last.lock().unwrap().insert(key, i);
                i += 1;
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        pull(&b, a.port);
        pull(&a, b.port);
        wait_peer(&b, 0, "state", "connected");
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    converge(&[&a, &b], Duration::from_secs(15));
    let mut cb = b.client();
    let line = info_field(&mut cb, "replication", "peer0");
    assert!(!line.contains("full_syncs=0"), "{line}");
    for (key, value) in last.lock().unwrap().iter() {
        let got: i64 = cb.get(key).unwrap();
        assert_eq!(got, *value, "{key}");
    }
    let v: String = cb.get("base7").unwrap();
    assert_eq!(v, "newer-on-b", "a full sync merges: it never wipes a newer local write");
    let v: i64 = cb.get("base19999").unwrap();
    assert_eq!(v, 19999);
}

#[test]
fn a_chain_of_three_converges() {
    let (a, b, c) = (master(&[]), master(&[]), master(&[]));
    pull(&a, b.port);
    pull(&b, a.port);
    pull(&b, c.port);
    pull(&c, b.port);
    let _: () = a.client().set("from-a", 1).unwrap();
    let _: () = c.client().set("from-c", 3).unwrap();
    let _: () = a.client().set("both", "a").unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let _: () = c.client().set("both", "c").unwrap();
    converge(&[&a, &b, &c], Duration::from_secs(10));
    let mut ca = a.client();
    let v: i64 = ca.get("from-c").unwrap();
    assert_eq!(v, 3, "c's write reached a through b");
    let v: String = ca.get("both").unwrap();
    assert_eq!(v, "c");
    let v: i64 = c.client().get("from-a").unwrap();
    assert_eq!(v, 1);
}

#[test]
fn a_peer_with_a_skewed_clock_is_refused_past_the_bound() {
    let a = master(&["--max-clock-drift", "1000"]);
    let b = master(&["--debug-clock-skew-ms", "60000"]);
    let mut cb = b.client();
    let _: () = cb.set("from-the-future", 1).unwrap();
    pull(&a, b.port);
    let mut ca = a.client();
    let started = Instant::now();
    while info_field(&mut ca, "replication", "repl_clock_drift_refused") == "0" {
        assert!(started.elapsed() < Duration::from_secs(10), "the skewed stamp was never refused");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The refusal is counted as the record is judged; the link's status records why it dropped a
    // moment later, once the error has unwound the link task.
    let started = Instant::now();
    loop {
        let line = info_field(&mut ca, "replication", "peer0");
        if line.contains("clock drift") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the link never said why: {line}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!ca.exists::<_, bool>("from-the-future").unwrap(), "never applied silently");

    // Within the bound, the same peer's writes are taken.
    let c = master(&["--debug-clock-skew-ms", "300"]);
    let _: () = c.client().set("slightly-ahead", 1).unwrap();
    pull(&a, c.port);
    let started = Instant::now();
    while !ca.exists::<_, bool>("slightly-ahead").unwrap() {
        assert!(started.elapsed() < Duration::from_secs(10), "a stamp within max-clock-drift was not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!ca.exists::<_, bool>("from-the-future").unwrap());
}

#[test]
fn a_plain_replica_mirrors_its_master_and_refuses_writes() {
    let master = TestServer::start_with(&["--save", ""]);
    let replica = TestServer::start_with(&["--save", ""]);
    let (mut cm, mut cr) = (master.client(), replica.client());
    let _: () = cm.set("k", "v").unwrap();
    let _: () = cr.set("stale", "only-on-replica").unwrap();
    pull(&replica, master.port);
    converge(&[&master, &replica], Duration::from_secs(10));
    assert!(!cr.exists::<_, bool>("stale").unwrap(), "a plain replica's full sync replaces its data");
    let err = cr.set::<_, _, ()>("x", 1).unwrap_err();
    assert_eq!(err.code(), Some("READONLY"), "{err}");
    let role: (String, String, i64, String, i64) = redis::cmd("ROLE").query(&mut cr).unwrap();
    assert_eq!((role.0.as_str(), role.2), ("slave", master.port as i64));
    assert_eq!(info_field(&mut cr, "replication", "role"), "slave");
    assert_eq!(info_field(&mut cr, "replication", "master_link_status"), "up");
    let role: (String, i64, Vec<(String, String, String)>) = redis::cmd("ROLE").query(&mut cm).unwrap();
    assert_eq!((role.0.as_str(), role.2.len()), ("master", 1));
    let _: () = cm.set("k", "v2").unwrap();
    converge(&[&master, &replica], Duration::from_secs(10));
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut cr).unwrap();
    let _: () = cr.set("x", 1).unwrap();
    assert_eq!(info_field(&mut cr, "replication", "role"), "master");
}

#[test]
fn links_authenticate_with_masterauth() {
    let a = master(&["--requirepass", "secret"]);
    let wrong = master(&["--masterauth", "nope"]);
    pull(&wrong, a.port);
    let line = wait_peer(&wrong, 0, "state", "down");
    assert!(line.contains("WRONGPASS") || line.contains("invalid"), "{line}");
    let right = master(&["--masterauth", "secret"]);
    pull(&right, a.port);
    wait_peer(&right, 0, "state", "connected");
    let mut ca =
        redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", a.port)).unwrap().get_connection().unwrap();
    let _: () = ca.set("k", "v").unwrap();
    let mut cr = right.client();
    let started = Instant::now();
    while !cr.exists::<_, bool>("k").unwrap() {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A link authenticates with `masteruser`; a user restricted to what a link runs (MESHKV.SYNC)
/// is enough, and one without it is refused with NOPERM.
#[test]
fn links_authenticate_with_masteruser() {
    let a = master(&["--requirepass", "secret"]);
    let mut ca =
        redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", a.port)).unwrap().get_connection().unwrap();
    for (user, password, rights) in [("peer", ">ps", "+meshkv.sync"), ("nosync", ">ns", "+ping")] {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(user)
            .arg("on")
            .arg(password)
            .arg("-@all")
            .arg(rights)
            .query(&mut ca)
            .unwrap();
    }
    let refused = master(&["--masteruser", "nosync", "--masterauth", "ns"]);
    pull(&refused, a.port);
    let line = wait_peer(&refused, 0, "state", "down");
    assert!(line.contains("NOPERM"), "{line}");
    let linked = master(&["--masteruser", "peer", "--masterauth", "ps"]);
    pull(&linked, a.port);
    wait_peer(&linked, 0, "state", "connected");
    let _: () = ca.set("k", "v").unwrap();
    let mut cl = linked.client();
    let started = Instant::now();
    while !cl.exists::<_, bool>("k").unwrap() {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn replication_directives_and_errors() {
    let a = master(&[]);
    let mut con = a.client();
    let err = redis::cmd("REPLICAOF").arg("127.0.0.1").arg("notaport").query::<()>(&mut con).unwrap_err();
    assert!(err.to_string().contains("Invalid master port"), "{err}");
    let err = redis::cmd("MESHKV.SYNC").arg("a").arg("b").arg("c").arg("d").arg("e").query::<()>(&mut con).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    assert_eq!(con.get::<_, Option<String>>("k").unwrap(), None, "the server is still up");
    let stamp: Option<Vec<String>> = redis::cmd("MESHKV.STAMP").arg("absent").query(&mut con).unwrap();
    assert_eq!(stamp, None);
    let err = redis::cmd("SWAPDB").arg(0).arg(1).query::<()>(&mut con).unwrap_err();
    assert!(err.to_string().contains("not supported with replication"), "{err}");
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("active-replica").query(&mut con).unwrap();
    assert_eq!(got, vec!["active-replica", "yes"]);
}

#[test]
fn the_three_master_example_converges() {
    let conf =
        |n: u16| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("conf/three-master/node{n}.conf"));
    let nodes: Vec<TestServer> = (1..=3).map(|n| TestServer::start_config_at(&conf(n), 7000 + n, &[])).collect();
    for (n, node) in nodes.iter().enumerate() {
        let _: () = node.client().set(format!("written-on-{n}"), n).unwrap();
    }
    converge(&[&nodes[0], &nodes[1], &nodes[2]], Duration::from_secs(15));
    for node in &nodes {
        assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut node.client()).unwrap(), 3);
        assert_eq!(info_field(&mut node.client(), "replication", "peers"), "2");
    }
}

#[test]
fn a_full_mesh_without_forwarding_converges() {
    let nodes: Vec<TestServer> = (0..3).map(|_| master(&["--multi-master-no-forward", "yes"])).collect();
    for a in &nodes {
        for b in &nodes {
            if a.port != b.port {
                pull(a, b.port);
            }
        }
    }
    for (n, node) in nodes.iter().enumerate() {
        let mut con = node.client();
        for i in 0..100 {
            let _: () = con.set(format!("k{i}"), format!("{n}-{i}")).unwrap();
        }
    }
    converge(&[&nodes[0], &nodes[1], &nodes[2]], Duration::from_secs(15));
    // Each node received each change once: nobody relayed.
    for node in &nodes {
        let mut con = node.client();
        let applied: u64 = info_field(&mut con, "replication", "repl_changes_applied").parse().unwrap();
        let stale: u64 = info_field(&mut con, "replication", "repl_changes_stale").parse().unwrap();
        assert_eq!(applied + stale, 200, "two peers' 100 changes each");
        assert_eq!(info_field(&mut con, "replication", "repl_changes_duplicate"), "0", "nobody relayed");
    }
}

#[test]
fn a_flash_tier_master_replicates_and_resumes_after_a_restart() {
    let dir = workdir("repl-flash");
    let flash_args = FLASH_MASTER;
    let b = master(&[]);
    let mut a = TestServer::start_in(&dir, &flash_args);
    let a_port = a.port;
    pull(&a, b.port);
    pull(&b, a_port);
    for i in 0..200 {
        let _: () = a.client().set(format!("a{i}"), i).unwrap();
        let _: () = b.client().set(format!("b{i}"), i).unwrap();
    }
    let _: () = b.client().rpush("list", &["x", "y"]).unwrap();
    let _: i64 = a.client().del("b0").unwrap(); // may or may not have arrived yet: either way, converge
    converge(&[&a, &b], Duration::from_secs(15));
    let _: () = redis::cmd("SHUTDOWN").query(&mut a.client()).unwrap_or(());
    assert!(a.wait_exit(Duration::from_secs(10)));
    for i in 0..50 {
        let _: () = b.client().set(format!("while-down{i}"), i).unwrap();
    }
    let mut args = flash_args.to_vec();
    let b_port = b.port.to_string();
    args.extend(["--replicaof", "127.0.0.1", &b_port]);
    let a = TestServer::start_at(&dir, a_port, &args);
    let line = wait_peer(&a, 0, "state", "connected");
    assert!(line.contains("sync=partial"), "the flash node resumed from its saved watermarks: {line}");
    converge(&[&a, &b], Duration::from_secs(15));
    let v: i64 = a.client().get("while-down49").unwrap();
    assert_eq!(v, 49);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_follower_that_falls_behind_the_backlog_is_dropped_and_resyncs() {
    let a = master(&["--repl-backlog-size", "64kb"]);
    let mut b = master(&[]);
    pull(&b, a.port);
    wait_peer(&b, 0, "state", "connected");
    b.signal("STOP"); // a follower that stops reading
    let mut ca = a.client();
    let value = "v".repeat(1000);
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.set(format!("k{i}"), &value).ignore();
    }
    let _: () = pipe.query(&mut ca).unwrap(); // 20 MB of changes: the socket buffers fill, the backlog wraps
    b.signal("CONT");
    converge(&[&a, &b], Duration::from_secs(30));
    let dropped: u64 = info_field(&mut ca, "replication", "repl_followers_dropped").parse().unwrap();
    assert!(dropped >= 1, "the follower was dropped instead of being buffered for");
    let line = info_field(&mut b.client(), "replication", "peer0");
    assert!(!line.contains("full_syncs=0"), "it came back by a full sync: {line}");
    assert!(b.alive());
}

#[test]
fn client_kill_ends_a_replication_link_which_then_resumes() {
    let a = master(&[]);
    let b = master(&[]);
    pull(&b, a.port);
    wait_peer(&b, 0, "state", "connected");
    let mut ca = a.client();
    assert_eq!(info_field(&mut ca, "replication", "sync_partial_ok"), "1");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut ca).unwrap();
    let link = list.lines().find(|l| l.contains("cmd=meshkv.sync")).unwrap_or_else(|| panic!("no link in {list}"));
    let id = link.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query(&mut ca).unwrap();
    assert_eq!(killed, 1);
    let started = Instant::now();
    while info_field(&mut ca, "replication", "sync_partial_ok") != "2" {
        assert!(started.elapsed() < Duration::from_secs(10), "the follower did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _: () = ca.set("after-kill", 1).unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
}

#[test]
fn random_partitions_and_a_crash_under_mixed_writes_converge() {
    // Every directed link goes through a proxy; for a few seconds random links are cut and healed
    // while three clients write (strings, counters, lists, hashes, TTLs, renames, deletes, the odd
    // FLUSHDB), and one node is killed with SIGKILL and restarted empty (RAM only) in the middle.
    let mut nodes: Vec<TestServer> = (0..3).map(|_| master(&["--repl-timeout", "2"])).collect();
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let mut proxies = HashMap::new();
    for (from, node) in nodes.iter().enumerate() {
        for (to, &port) in ports.iter().enumerate() {
            if from != to {
                let proxy = Proxy::start(port);
                pull(node, proxy.port);
                proxies.insert((from, to), proxy);
            }
        }
    }
    let restart_dir = workdir("repl-chaos-restart");
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for (n, &port) in ports.iter().enumerate() {
            let stop = &stop;
            scope.spawn(move || {
                let mut rng = rand::rng();
                let url = format!("redis://127.0.0.1:{port}/");
                let mut con = None;
                while !stop.load(Ordering::Relaxed) {
                    let c = match con.as_mut() {
                        Some(c) => c,
                        None => match redis::Client::open(url.as_str()).unwrap().get_connection() {
                            Ok(c) => con.insert(c),
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(20)); // the node is restarting
                                continue;
                            }
                        },
                    };
                    let key = format!("k{}", rng.random_range(0..30));
                    let cmd = match rng.random_range(0..12) {
                        0..=4 => redis::cmd("SET").arg(&key).arg(format!("{n}-{}", rng.random_range(0..1000))).clone(),
                        5 => redis::cmd("DEL").arg(&key).clone(),
                        6 => redis::cmd("EXPIRE").arg(&key).arg(rng.random_range(1..3)).clone(),
                        7 => redis::cmd("HSET").arg(format!("h{}", rng.random_range(0..5))).arg("f").arg(n).clone(),
                        8 => redis::cmd("INCR").arg(format!("c{}", rng.random_range(0..3))).clone(),
                        9 => redis::cmd("LPUSH").arg(format!("l{}", rng.random_range(0..3))).arg(n).clone(),
                        10 => redis::cmd("RENAME").arg(&key).arg(format!("k{}", rng.random_range(0..30))).clone(),
                        _ if rng.random_range(0..30) == 0 => redis::cmd("FLUSHDB").clone(),
                        _ => redis::cmd("GET").arg(&key).clone(),
                    };
                    if let Err(e) = cmd.query::<redis::Value>(c) {
                        if e.is_io_error() || e.is_connection_dropped() {
                            con = None; // the node was killed: connect again once it is back
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        let mut rng = rand::rng();
        let started = Instant::now();
        let mut crashed = false;
        while started.elapsed() < Duration::from_secs(5) {
            if !crashed && started.elapsed() > Duration::from_secs(2) {
                crashed = true;
                nodes[2].signal("KILL");
                assert!(nodes[2].wait_exit(Duration::from_secs(5)));
                let mut args =
                    vec!["--active-replica", "yes", "--multi-master", "yes", "--save", "", "--repl-timeout", "2"];
                let peers: Vec<String> = [(2, 0), (2, 1)].iter().map(|k| proxies[k].port.to_string()).collect();
                for p in &peers {
                    args.extend(["--replicaof", "127.0.0.1", p.as_str()]);
                }
                nodes[2] = TestServer::start_at(&restart_dir, ports[2], &args);
            }
            let link = *proxies.keys().nth(rng.random_range(0..proxies.len())).unwrap();
            proxies[&link].cut();
            std::thread::sleep(Duration::from_millis(rng.random_range(100..600)));
            proxies[&link].heal();
            std::thread::sleep(Duration::from_millis(rng.random_range(50..200)));
        }
        stop.store(true, Ordering::Relaxed);
    });
    converge(&[&nodes[0], &nodes[1], &nodes[2]], Duration::from_secs(30));
    drop(nodes);
    let _ = std::fs::remove_dir_all(&restart_dir);
}

/// A node that applied a peer's writes, deletes and flushes, restarted from what it saved, and
/// then wrote the same keys: its writes are the newest anyone made, so they must win on both
/// nodes. `storage` adds B's storage directives (none: a snapshot; the FLASH tier).
///
/// The peer's clock runs ahead of B's (as a peer's may, within `max-clock-drift`), so what B
/// loads at start is stamped ahead of B's wall clock. B's clock must start past it: a clock that
/// started from the wall clock stamped B's writes older than what B had loaded, so they stayed on
/// B and the peer dropped them as stale, for good.
fn a_restarted_node_writes_newer_than_what_it_loaded(name: &str, storage: &[&str]) {
    // 20 s ahead, with the bound raised to take it (the default is 5 s): a slow restart on a busy
    // machine still leaves B's wall clock behind A's stamps when B writes, which the test checks.
    let skew_ms = 20_000;
    let drift = ["--max-clock-drift", "60000"];
    let skew = skew_ms.to_string();
    let a = master(&[drift[0], drift[1], "--debug-clock-skew-ms", &skew]);
    let dir = workdir(name);
    let mut b_args = vec!["--active-replica", "yes", "--multi-master", "yes", "--save", ""];
    b_args.extend_from_slice(&drift);
    b_args.extend_from_slice(storage);
    let mut b = TestServer::start_in(&dir, &b_args);
    let b_port = b.port;
    pull(&a, b_port);
    pull(&b, a.port);
    let (mut ca, mut ca1) = (a.client(), a.client());
    let (mut cb, mut cb1) = (b.client(), b.client());
    let _: () = redis::cmd("SELECT").arg(1).query(&mut ca1).unwrap();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut cb1).unwrap();
    // B's own writes first; then A, ahead, writes a key, deletes one of B's and flushes db 1.
    let _: () = cb.set("deleted", "from-b").unwrap();
    let _: () = cb1.set("flushed", "from-b").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    let _: () = ca.set("put", "from-a").unwrap();
    let _: i64 = ca.del("deleted").unwrap();
    let _: () = redis::cmd("FLUSHDB").query(&mut ca1).unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    assert!(!cb.exists::<_, bool>("deleted").unwrap() && !cb1.exists::<_, bool>("flushed").unwrap());
    drop((cb, cb1));

    let _: () = redis::cmd("SHUTDOWN").arg("SAVE").query(&mut b.client()).unwrap_or(());
    assert!(b.wait_exit(Duration::from_secs(10)));
    let a_port = a.port.to_string();
    b_args.extend(["--replicaof", "127.0.0.1", &a_port]);
    let b = TestServer::start_at(&dir, b_port, &b_args);
    let (mut cb, mut cb1) = (b.client(), b.client());
    let _: () = redis::cmd("SELECT").arg(1).query(&mut cb1).unwrap();
    // The scenario holds only while B's wall clock is still behind A's stamps.
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut cb).unwrap();
    let b_now_ms = secs * 1000 + micros / 1000;
    let a_put: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("put").query(&mut ca).unwrap();
    assert!(b_now_ms < a_put.2, "the restart took longer than A's lead ({skew_ms} ms): the test proves nothing");

    let _: () = cb.set("put", "from-b").unwrap();
    let _: () = cb.set("deleted", "from-b").unwrap();
    let _: () = cb1.set("flushed", "from-b").unwrap();
    converge(&[&a, &b], Duration::from_secs(15));
    for (con, node) in [(&mut ca, "a"), (&mut cb, "b")] {
        for key in ["put", "deleted"] {
            let v: Option<String> = con.get(key).unwrap();
            assert_eq!(v.as_deref(), Some("from-b"), "{key} on {node}");
        }
    }
    for (con, node) in [(&mut ca1, "a"), (&mut cb1, "b")] {
        let v: Option<String> = con.get("flushed").unwrap();
        assert_eq!(v.as_deref(), Some("from-b"), "flushed (db 1) on {node}");
    }
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restarted_node_writes_newer_than_its_snapshot() {
    a_restarted_node_writes_newer_than_what_it_loaded("repl-clock-snapshot", &[]);
}

#[test]
fn a_restarted_flash_node_writes_newer_than_what_flash_held() {
    a_restarted_node_writes_newer_than_what_it_loaded("repl-clock-flash", &["--storage-provider", "flash", "db"]);
}

/// MULTI, SET, FLUSHDB, SET, EXEC: each command has its own stamp, so the write before the flush
/// is older than it and the write after newer, on the node that ran it and on its peer alike. With
/// one stamp for the whole EXEC, the write after the flush shared the flush's stamp: it stayed
/// here, and the peer refused it as no newer than the flush.
#[test]
fn writes_around_a_flush_in_one_exec_keep_their_order_on_every_node() {
    let a = master(&[]);
    let b = master(&[]);
    pull(&a, b.port);
    pull(&b, a.port);
    let (mut ca, mut cb) = (a.client(), b.client());
    let _: () = cb.set("old", "1").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    let _: String = redis::cmd("MULTI").query(&mut ca).unwrap();
    for cmd in [&["SET", "before", "gone"][..], &["FLUSHDB"], &["SET", "after", "kept"]] {
        let queued: String = redis::cmd(cmd[0]).arg(&cmd[1..]).query(&mut ca).unwrap();
        assert_eq!(queued, "QUEUED");
    }
    let replies: Vec<String> = redis::cmd("EXEC").query(&mut ca).unwrap();
    assert_eq!(replies, ["OK", "OK", "OK"]);
    converge(&[&a, &b], Duration::from_secs(10));
    for (con, node) in [(&mut ca, "a"), (&mut cb, "b")] {
        let after: Option<String> = con.get("after").unwrap();
        assert_eq!(after.as_deref(), Some("kept"), "the write after the flush, on {node}");
        assert!(!con.exists::<_, bool>("before").unwrap(), "the write before the flush, on {node}");
        assert!(!con.exists::<_, bool>("old").unwrap(), "a key from before the EXEC, on {node}");
    }
    let after: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("after").query(&mut cb).unwrap();
    assert_eq!(after.3, "live");
}

/// An expired key's tombstone carries its last write's stamp (an older write stays stale), but is
/// kept for `repl-tombstone-ttl` from the time the key expired. Counted from the stamp, the
/// tombstone of a key whose TTL outlived `repl-tombstone-ttl` went within a second of the expiry.
#[test]
fn an_expired_keys_tombstone_is_kept_from_its_expiry() {
    let a = master(&["--repl-tombstone-ttl", "3"]);
    let mut ca = a.client();
    let stamp = |con: &mut redis::Connection| -> Option<(u64, String, u64, String)> {
        redis::cmd("MESHKV.STAMP").arg("k").query(con).unwrap()
    };
    let _: () = redis::cmd("SET").arg("k").arg("v").arg("PX").arg(5000).query(&mut ca).unwrap();
    let written = stamp(&mut ca).expect("a live key has a stamp");
    let started = Instant::now();
    while ca.exists::<_, bool>("k").unwrap() {
        assert!(started.elapsed() < Duration::from_secs(15), "k never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
    let gone = Instant::now();
    let buried = stamp(&mut ca).expect("an expired key leaves a tombstone");
    assert_eq!((buried.0, buried.3.as_str()), (written.0, "deleted"), "with its last write's stamp");
    // Tombstones are purged about once a second: one and a half seconds after the expiry, one
    // counted from the write (5 s ago, past the 3 s) would be gone.
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(gone.elapsed()));
    assert!(stamp(&mut ca).is_some(), "the tombstone went before repl-tombstone-ttl had passed since the expiry");
    while stamp(&mut ca).is_some() {
        assert!(gone.elapsed() < Duration::from_secs(10), "the tombstone was never purged");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scenario 3: two FLASH tier masters (`appendfsync always`); A restarted cleanly once (so a
/// watermarks file exists) and SAVEd, then B's link to A is cut and A takes writes B never sees,
/// then A is killed with SIGKILL and restarted on the same directory. Every write A acknowledged
/// is on A's flash; B must get them all once the link heals. A stale watermarks file made A claim
/// only what it held at the SAVE (and nothing of the run that was killed), so B, which held that
/// much, got a partial resync from A's new, empty log and never received the writes of the cut.
#[test]
fn a_flash_master_killed_while_a_peer_lags_loses_nothing() {
    let (dir_a, dir_b) = (workdir("repl-flash-kill-a"), workdir("repl-flash-kill-b"));
    let flash_args = [
        "--active-replica",
        "yes",
        "--multi-master",
        "yes",
        "--save",
        "",
        "--storage-provider",
        "flash",
        "db",
        "--appendfsync",
        "always",
        "--repl-timeout",
        "2",
    ];
    let b = TestServer::start_in(&dir_b, &flash_args);
    let mut a = TestServer::start_in(&dir_a, &flash_args);
    let a_port = a.port;
    let to_a = Proxy::start(a_port);
    pull(&a, b.port);
    pull(&b, to_a.port);
    let mut cb = b.client();
    for i in 0..100 {
        let _: () = a.client().set(format!("a{i}"), i).unwrap();
        let _: () = cb.set(format!("b{i}"), i).unwrap();
    }
    converge(&[&a, &b], Duration::from_secs(15));
    // A clean restart: A's watermarks are saved at shutdown and read back at start.
    let _: () = redis::cmd("SHUTDOWN").query(&mut a.client()).unwrap_or(());
    assert!(a.wait_exit(Duration::from_secs(10)));
    let b_port = b.port.to_string();
    let mut args = flash_args.to_vec();
    args.extend(["--replicaof", "127.0.0.1", &b_port]);
    a = TestServer::start_at(&dir_a, a_port, &args);
    let line = wait_peer(&a, 0, "state", "connected");
    assert!(line.contains("sync=partial"), "a clean restart resumes from the saved watermarks: {line}");
    let mut ca = a.client();
    for i in 0..100 {
        let _: () = ca.set(format!("run2-{i}"), i).unwrap();
    }
    converge(&[&a, &b], Duration::from_secs(15));
    let _: () = redis::cmd("SAVE").query(&mut ca).unwrap();
    // B lags: its link to A is cut while A and B both take writes.
    to_a.cut();
    for i in 0..200 {
        let _: () = ca.set(format!("cut-a{i}"), i).unwrap();
        let _: () = cb.set(format!("cut-b{i}"), i).unwrap();
    }
    let _: () = ca.set("shared", "from-a").unwrap();
    a.signal("KILL");
    assert!(a.wait_exit(Duration::from_secs(5)));
    for i in 0..50 {
        let _: () = cb.set(format!("while-down{i}"), i).unwrap();
    }
    let a = TestServer::start_at(&dir_a, a_port, &args);
    to_a.heal();
    converge(&[&a, &b], Duration::from_secs(20));
    let (mut ca, mut cb) = (a.client(), b.client());
    for con in [&mut ca, &mut cb] {
        assert_eq!(redis::cmd("DBSIZE").query::<i64>(con).unwrap(), 100 + 100 + 100 + 400 + 1 + 50);
        let v: i64 = con.get("cut-a199").unwrap();
        assert_eq!(v, 199, "A's acknowledged write before the crash reached B");
        let v: String = con.get("shared").unwrap();
        assert_eq!(v, "from-a");
        let v: i64 = con.get("while-down49").unwrap();
        assert_eq!(v, 49);
    }
    // After a crash A's watermarks are not trusted: B's link to A had a full sync.
    let line = wait_peer(&b, 0, "state", "connected");
    assert!(line.contains("sync=full"), "B resumed from watermarks A could not vouch for: {line}");
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}

/// Scenario 4: with `multi-master-no-forward yes`, a node killed after its last snapshot comes
/// back from that snapshot, without the writes it made after it; its peer holds them. The peer
/// must send them back: they are the restarted node's own writes of its previous run, not
/// another node's to forward. A peer that counted them as relayed never sent them, and the two
/// nodes stayed apart for good.
#[test]
fn a_node_without_forwarding_gets_back_its_writes_after_its_snapshot() {
    let dir = workdir("repl-no-forward-restart");
    let args = ["--active-replica", "yes", "--multi-master", "yes", "--save", "", "--multi-master-no-forward", "yes"];
    let b = master(&["--multi-master-no-forward", "yes"]);
    let mut a = TestServer::start_in(&dir, &args);
    let a_port = a.port;
    pull(&a, b.port);
    pull(&b, a_port);
    let mut ca = a.client();
    for i in 0..100 {
        let _: () = ca.set(format!("saved{i}"), i).unwrap();
    }
    converge(&[&a, &b], Duration::from_secs(10));
    let _: () = redis::cmd("SAVE").query(&mut ca).unwrap();
    for i in 0..100 {
        let _: () = ca.set(format!("after-save{i}"), i).unwrap();
    }
    let _: () = ca.set("saved0", "changed-after-save").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    a.signal("KILL");
    assert!(a.wait_exit(Duration::from_secs(5)));
    let b_port = b.port.to_string();
    let mut restart = args.to_vec();
    restart.extend(["--replicaof", "127.0.0.1", &b_port]);
    let a = TestServer::start_at(&dir, a_port, &restart);
    let line = wait_peer(&a, 0, "state", "connected");
    assert!(line.contains("sync=partial"), "the restarted node resumed from its snapshot's watermarks: {line}");
    converge(&[&a, &b], Duration::from_secs(15));
    let mut ca = a.client();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut ca).unwrap(), 200);
    let v: String = ca.get("saved0").unwrap();
    assert_eq!(v, "changed-after-save");
    let v: i64 = ca.get("after-save99").unwrap();
    assert_eq!(v, 99);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Scenario 6: replication switched on at run time (a peer's first `MESHKV.SYNC` starts the
/// source's log; REPLICAOF starts the follower's) while clients write as fast as they can. The
/// log and the change feed start with every shard held, so each write is either logged or
/// counted as history that needs a full sync; the window this closes is too narrow for a test to
/// hit on purpose, so this one checks that starting under load converges and does not stall.
#[test]
fn replication_started_during_a_write_storm_converges() {
    let a = TestServer::start_with(&["--save", ""]);
    let b = master(&[]);
    let go = std::sync::Barrier::new(5);
    let a_port = a.port;
    std::thread::scope(|scope| {
        for t in 0..4 {
            let go = &go;
            scope.spawn(move || {
                let mut con =
                    redis::Client::open(format!("redis://127.0.0.1:{a_port}/")).unwrap().get_connection().unwrap();
                go.wait();
                for i in 0..2000 {
                    let _: () = con.set(format!("storm{t}-{i}"), i).unwrap();
                }
            });
        }
        go.wait();
        pull(&b, a_port);
    });
    converge(&[&a, &b], Duration::from_secs(20));
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut b.client()).unwrap(), 8000);
}

/// A transaction's changes travel as one group and a peer merges the group under the locks of all
/// its keys together (issue 18, scenario 8). While one master renames a key back and forth and
/// writes two keys in one EXEC, readers on the other never see both names or neither, nor the
/// two keys from different EXECs. Before groups, a RENAME arrived as a delete and a put merged
/// under separate locks, and a reader between them saw the key under neither name.
#[test]
fn a_peer_sees_a_rename_or_an_exec_whole_or_not_at_all() {
    let a = master(&[]);
    let b = master(&[]);
    pull(&a, b.port);
    pull(&b, a.port);
    let _: () = a.client().set("left", "v").unwrap();
    let _: () = a.client().mset(&[("x1", 0), ("x2", 0)]).unwrap();
    converge(&[&a, &b], Duration::from_secs(10));

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (mut con, done) = (a.client(), done.clone());
        std::thread::spawn(move || {
            for i in 1..=2000 {
                let _: () = redis::cmd("RENAME").arg("left").arg("right").query(&mut con).unwrap();
                let _: () = redis::cmd("RENAME").arg("right").arg("left").query(&mut con).unwrap();
                let _: () = redis::pipe().atomic().set("x1", i).set("x2", i).query(&mut con).unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut cb = b.client();
    let (mut reads, mut torn) = (0u64, Vec::new());
    while !done.load(Ordering::Acquire) {
        let names: i64 = redis::cmd("EXISTS").arg("left").arg("right").query(&mut cb).unwrap();
        let (x1, x2): (i64, i64) = redis::cmd("MGET").arg("x1").arg("x2").query(&mut cb).unwrap();
        reads += 1;
        if names != 1 {
            torn.push(format!("EXISTS left right = {names}"));
        }
        if x1 != x2 {
            torn.push(format!("x1 = {x1}, x2 = {x2}"));
        }
    }
    writer.join().unwrap();
    assert!(
        torn.is_empty(),
        "{} of {reads} reads saw half a transaction: {:?}",
        torn.len(),
        &torn[..torn.len().min(5)]
    );
    assert!(reads > 100, "only {reads} reads while the writer ran");
    converge(&[&a, &b], Duration::from_secs(10));
    let left: String = cb.get("left").unwrap();
    assert_eq!(left, "v");
    let x2: i64 = cb.get("x2").unwrap();
    assert_eq!(x2, 2000);
}

/// A chain A -> X -> S where X falls off A's backlog and comes back by a full sync (issue 18,
/// scenario 5): what the cut brought X is not in X's log, so X makes its followers resync, and S
/// gets it. Before, S streamed on from X's log and stayed behind for as long as its link held.
#[test]
fn a_full_sync_in_the_middle_of_a_chain_reaches_the_end_of_it() {
    let a = master(&["--repl-backlog-size", "64kb"]);
    let x = master(&[]);
    let s = master(&[]);
    pull(&x, a.port);
    pull(&s, x.port);
    wait_peer(&x, 0, "state", "connected");
    wait_peer(&s, 0, "state", "connected");
    let _: () = a.client().set("before", 1).unwrap();
    converge(&[&a, &x, &s], Duration::from_secs(10));
    x.signal("STOP"); // X stops reading: A's backlog wraps past it
    let mut ca = a.client();
    let value = "v".repeat(1000);
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.set(format!("k{i}"), &value).ignore();
    }
    let _: () = pipe.query(&mut ca).unwrap();
    x.signal("CONT");
    converge(&[&a, &x, &s], Duration::from_secs(30));
    let line = info_field(&mut x.client(), "replication", "peer0");
    assert!(!line.contains("full_syncs=0"), "x came back by a full sync: {line}");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut s.client()).unwrap(), 20_001);
}

/// A RAM node with no snapshot, whose clock ran ahead of its wall clock (it observed a peer that
/// is ahead, within `max-clock-drift`), is killed after shipping a write; restarted, its first
/// write to the same key must win. Nothing it loads tells its clock how far it had gone: the
/// clock's ceiling file does. Without it, the restarted node stamped the write from its wall
/// clock, older than the one before the crash, and the old value came back from the peer and
/// won on both nodes: an acknowledged write silently undone.
#[test]
fn a_node_killed_with_its_clock_ahead_writes_newer_after_restart() {
    let skew = "20000"; // A is 20 s ahead; the bound is raised to take it (see the test above)
    let drift = ["--max-clock-drift", "60000"];
    let a = master(&[drift[0], drift[1], "--debug-clock-skew-ms", skew]);
    let dir = workdir("repl-clock-ceiling");
    let b_args = ["--active-replica", "yes", "--multi-master", "yes", "--save", "", drift[0], drift[1]];
    let mut b = TestServer::start_in(&dir, &b_args);
    let b_port = b.port;
    pull(&a, b_port);
    pull(&b, a.port);
    let _: () = a.client().set("from-a", 1).unwrap(); // B's clock moves up to A's
    converge(&[&a, &b], Duration::from_secs(10));
    let _: () = b.client().set("k", "before-crash").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    let before: (u64, String, u64, String) = redis::cmd("MESHKV.STAMP").arg("k").query(&mut a.client()).unwrap();
    b.signal("KILL");
    assert!(b.wait_exit(Duration::from_secs(10)));

    // Restarted alone (no link yet, so nothing from A can move its clock first), it writes k.
    let b = TestServer::start_at(&dir, b_port, &b_args);
    let mut cb = b.client();
    let _: () = cb.set("k", "after-restart").unwrap();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut cb).unwrap();
    assert!(secs * 1000 + micros / 1000 < before.2, "the restart took longer than A's lead: the test proves nothing");
    pull(&b, a.port); // A's own link to B reconnects by itself
    converge(&[&a, &b], Duration::from_secs(15));
    for (mut con, node) in [(a.client(), "a"), (cb, "b")] {
        let v: String = con.get("k").unwrap();
        assert_eq!(v, "after-restart", "on {node}");
    }
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// FLASH tier: a delete a peer missed survives a restart of the node that made it. Its tombstone
/// is kept on flash (a grave) and comes back at start, so the full sync the peer then needs
/// carries the delete. Before, tombstones lived in RAM only: after the restart the node's cut
/// had neither the key nor its tombstone, the peer kept the key, and the two stayed different.
#[test]
fn a_flash_nodes_tombstones_outlive_its_restart() {
    let dir = workdir("repl-flash-graves");
    let flash_args = FLASH_MASTER;
    let b = master(&[]);
    let mut a = TestServer::start_in(&dir, &flash_args);
    let a_port = a.port;
    pull(&a, b.port);
    pull(&b, a_port);
    let _: () = b.client().set("k", "from-b").unwrap();
    let _: () = b.client().set("kept", "from-b").unwrap();
    converge(&[&a, &b], Duration::from_secs(10));
    b.signal("STOP"); // b misses the delete
    let _: i64 = a.client().del("k").unwrap();
    let _: () = redis::cmd("SHUTDOWN").query(&mut a.client()).unwrap_or(());
    assert!(a.wait_exit(Duration::from_secs(10)));
    let mut args = flash_args.to_vec();
    let b_port = b.port.to_string();
    args.extend(["--replicaof", "127.0.0.1", &b_port]);
    let a = TestServer::start_at(&dir, a_port, &args);
    let grave: Option<(u64, String, u64, String)> = redis::cmd("MESHKV.STAMP").arg("k").query(&mut a.client()).unwrap();
    assert_eq!(grave.map(|g| g.3).as_deref(), Some("deleted"), "the tombstone came back with the restart");
    b.signal("CONT");
    converge(&[&a, &b], Duration::from_secs(15));
    for (mut con, node) in [(a.client(), "a"), (b.client(), "b")] {
        assert!(!con.exists::<_, bool>("k").unwrap(), "k came back on {node}");
        assert!(con.exists::<_, bool>("kept").unwrap());
    }
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

/// MESHKV.DIGEST covers what DEBUG DIGEST leaves out, stamps and expiry times: two nodes that hold
/// the same values written separately (so with different stamps), or the same expiring key with
/// different expiry times, have equal DEBUG DIGESTs and different MESHKV.DIGESTs; once linked and
/// converged, their MESHKV.DIGESTs are equal, expiring keys included.
#[test]
fn meshkv_digest_covers_stamps_and_expiry_times() {
    let (a, b) = (master(&[]), master(&[]));
    let (mut ca, mut cb) = (a.client(), b.client());
    let meshkv_digest = |c: &mut redis::Connection| -> String { redis::cmd("MESHKV.DIGEST").query(c).unwrap() };
    let empty = meshkv_digest(&mut ca);
    assert_eq!(empty, "0".repeat(40));

    // Same value, different stamps.
    for c in [&mut ca, &mut cb] {
        let _: () = c.set("k", "v").unwrap();
    }
    assert_eq!(digest(&mut ca), digest(&mut cb));
    assert_ne!(meshkv_digest(&mut ca), meshkv_digest(&mut cb));
    assert_ne!(meshkv_digest(&mut ca), empty);

    // Same expiring value, different expiry times (DEBUG DIGEST only sees that both expire).
    let far =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 + 3_600_000;
    let _: () = redis::cmd("SET").arg("t").arg("v").arg("PXAT").arg(far).query(&mut ca).unwrap();
    let _: () = redis::cmd("SET").arg("t").arg("v").arg("PXAT").arg(far + 1000).query(&mut cb).unwrap();
    assert_eq!(digest(&mut ca), digest(&mut cb));
    let before = meshkv_digest(&mut ca);
    assert_ne!(before, meshkv_digest(&mut cb));

    // A new expiry time on one node changes its digest, the value unchanged. (A few ms later, so
    // that its stamp is greater than b's write: the unlinked nodes' clocks only share the wall
    // clock, and within one ms the node id would break the tie.)
    std::thread::sleep(Duration::from_millis(10));
    let _: () = redis::cmd("PEXPIREAT").arg("t").arg(far + 2000).query(&mut ca).unwrap();
    assert_ne!(meshkv_digest(&mut ca), before);

    // Linked both ways, the later stamp of each key wins everywhere: equal digests.
    pull(&a, b.port);
    pull(&b, a.port);
    let started = Instant::now();
    while meshkv_digest(&mut ca) != meshkv_digest(&mut cb) {
        assert!(started.elapsed() < Duration::from_secs(15), "MESHKV.DIGEST never converged");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(digest(&mut ca), digest(&mut cb));
    let ttl_a: i64 = redis::cmd("PEXPIRETIME").arg("t").query(&mut ca).unwrap();
    let ttl_b: i64 = redis::cmd("PEXPIRETIME").arg("t").query(&mut cb).unwrap();
    assert_eq!((ttl_a, ttl_b), (far as i64 + 2000, far as i64 + 2000));
}
