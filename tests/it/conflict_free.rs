//! Conflict-free types across masters (`storage::crdt`): three real masters, each pulling from the
//! other two through a proxy that the test cuts and heals. During the partition every master
//! writes the same keys; after the heal every node must hold exactly what the README's table
//! says: every increment counted, every add and hash field kept unless a remove saw it, a field's
//! later write winning, a whole write newer than a counter's base replacing it.

use std::time::Duration;

use redis::Commands;

use crate::harness::{Proxy, TestServer};
use crate::replication::{converge, master, pull, FLASH_MASTER};

/// Three masters in a full mesh whose six links can be cut and healed together.
struct Mesh {
    nodes: Vec<TestServer>,
    links: Vec<Proxy>,
}

impl Mesh {
    fn start(extra: &[&str]) -> Mesh {
        let mut args = vec!["--repl-timeout", "2"];
        args.extend_from_slice(extra);
        let nodes: Vec<TestServer> = (0..3).map(|_| master(&args)).collect();
        let mut links = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for (j, other) in nodes.iter().enumerate() {
                if i != j {
                    let proxy = Proxy::start(other.port);
                    pull(node, proxy.port);
                    links.push(proxy);
                }
            }
        }
        Mesh { nodes, links }
    }

    fn cut(&self) {
        self.links.iter().for_each(Proxy::cut);
        // Until the links notice, a write could still slip through: wait for every node to see
        // its peers down.
        for node in &self.nodes {
            let mut con = node.client();
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            loop {
                let info: String = redis::cmd("INFO").arg("replication").query(&mut con).unwrap();
                if !info.contains("state=up") {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "links still up after the cut: {info}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn heal(&self) {
        self.links.iter().for_each(Proxy::heal);
        converge(&self.nodes.iter().collect::<Vec<_>>(), Duration::from_secs(20));
    }

    fn clients(&self) -> Vec<redis::Connection> {
        self.nodes.iter().map(TestServer::client).collect()
    }

    fn settle(&self) {
        converge(&self.nodes.iter().collect::<Vec<_>>(), Duration::from_secs(20));
    }
}

fn sorted_members(con: &mut redis::Connection, key: &str) -> Vec<String> {
    let mut members: Vec<String> = con.smembers(key).unwrap();
    members.sort();
    members
}

fn counters_keep_every_increment(extra: &[&str]) {
    let mesh = Mesh::start(extra);
    let mut c = mesh.clients();
    let _: () = c[0].set("ctr", 10).unwrap();
    let _: () = c[1].set("reset", 1).unwrap();
    mesh.settle();
    mesh.cut();
    for _ in 0..3 {
        let _: i64 = c[0].incr("ctr", 5).unwrap();
    }
    for _ in 0..7 {
        let _: i64 = c[1].incr("ctr", 1).unwrap();
    }
    let _: i64 = c[2].decr("ctr", 2).unwrap();
    for con in c.iter_mut() {
        let _: i64 = con.incr("fresh", 1).unwrap(); // a key none had: every master starts it
    }
    // A whole write newer than the counter's base replaces it, increments on the old base too.
    let _: i64 = c[0].incr("reset", 1).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let _: () = c[2].set("reset", 100).unwrap();
    mesh.heal();
    for con in c.iter_mut() {
        assert_eq!(con.get::<_, i64>("ctr").unwrap(), 10 + 15 + 7 - 2, "every increment counts");
        assert_eq!(con.get::<_, i64>("fresh").unwrap(), 3);
        assert_eq!(con.get::<_, i64>("reset").unwrap(), 100);
        let kind: String = redis::cmd("TYPE").arg("ctr").query(con).unwrap();
        assert_eq!(kind, "string", "clients see a plain string");
        let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg("ctr").query(con).unwrap();
        assert_eq!(encoding, "int");
    }
    // After the heal, increments go on from the merged total everywhere.
    let _: i64 = c[1].incr("ctr", 100).unwrap();
    let _: i64 = c[2].incr("reset", 1).unwrap();
    mesh.settle();
    for con in c.iter_mut() {
        assert_eq!(con.get::<_, i64>("ctr").unwrap(), 130);
        assert_eq!(con.get::<_, i64>("reset").unwrap(), 101);
    }
}

fn sets_keep_every_add_a_remove_did_not_see(extra: &[&str]) {
    let mesh = Mesh::start(extra);
    let mut c = mesh.clients();
    let _: i64 = c[0].sadd("s", &["x", "y", "z"]).unwrap();
    let _: i64 = c[1].sadd("gone", &["a", "b"]).unwrap();
    let _: i64 = c[2].sadd("emptied", "only").unwrap();
    mesh.settle();
    mesh.cut();
    let _: i64 = c[0].sadd("s", "from-a").unwrap();
    let _: i64 = c[0].srem("s", "x").unwrap();
    let _: i64 = c[1].sadd("s", "from-b").unwrap();
    let _: i64 = c[1].srem("s", "x").unwrap();
    let _: i64 = c[1].sadd("s", "x").unwrap(); // added again, concurrently with a's remove: kept
    let _: i64 = c[2].srem("s", "y").unwrap(); // seen by no one else: y goes everywhere
    for (i, con) in c.iter_mut().enumerate() {
        let _: i64 = con.sadd("fresh", format!("m{i}")).unwrap();
    }
    // A delete removes what it saw: an add concurrent with it survives, whether the set was
    // deleted whole or emptied member by member.
    let _: i64 = c[0].del("gone").unwrap();
    let _: i64 = c[1].sadd("gone", "late").unwrap();
    let _: i64 = c[0].srem("emptied", "only").unwrap();
    let _: i64 = c[2].sadd("emptied", "other").unwrap();
    mesh.heal();
    for con in c.iter_mut() {
        assert_eq!(sorted_members(con, "s"), ["from-a", "from-b", "x", "z"]);
        assert_eq!(sorted_members(con, "fresh"), ["m0", "m1", "m2"]);
        assert_eq!(con.scard::<_, i64>("s").unwrap(), 4);
        assert_eq!(sorted_members(con, "gone"), ["late"]);
        assert_eq!(sorted_members(con, "emptied"), ["other"]);
    }
    // And a delete that saw every add removes the set everywhere.
    let _: i64 = c[2].del("gone").unwrap();
    let _: i64 = c[1].srem("emptied", "other").unwrap();
    mesh.settle();
    for con in c.iter_mut() {
        assert_eq!(con.exists::<_, i64>(&["gone", "emptied"]).unwrap(), 0);
    }
    // An SPOP after the heal takes a member once, everywhere.
    let popped: String = c[0].spop("fresh").unwrap();
    mesh.settle();
    for con in c.iter_mut() {
        assert!(!sorted_members(con, "fresh").contains(&popped));
        assert_eq!(con.scard::<_, i64>("fresh").unwrap(), 2);
    }
}

fn sorted_pairs(con: &mut redis::Connection, key: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = con.hgetall(key).unwrap();
    pairs.sort();
    pairs
}

fn hashes_keep_every_field_and_the_later_value(extra: &[&str]) {
    let mesh = Mesh::start(extra);
    let mut c = mesh.clients();
    let _: () = c[0].hset_multiple("h", &[("old", "1"), ("gone", "x"), ("kept", "y")]).unwrap();
    mesh.settle();
    mesh.cut();
    let _: i64 = c[0].hset("h", "from-a", "a").unwrap();
    let _: i64 = c[1].hset("h", "from-b", "b").unwrap();
    let _: i64 = c[0].hset("h", "old", "a's").unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let _: i64 = c[2].hset("h", "old", "c's, later").unwrap(); // the later write of one field wins
    let _: i64 = c[1].hdel("h", "gone").unwrap(); // saw the only write: gone everywhere
    let _: i64 = c[2].hdel("h", "kept").unwrap();
    let _: i64 = c[0].hset("h", "kept", "rewritten").unwrap(); // concurrent with that HDEL: kept
    mesh.heal();
    for con in c.iter_mut() {
        assert_eq!(
            sorted_pairs(con, "h"),
            [("from-a", "a"), ("from-b", "b"), ("kept", "rewritten"), ("old", "c's, later")]
                .map(|(f, v)| (f.to_string(), v.to_string()))
        );
        let kind: String = redis::cmd("TYPE").arg("h").query(con).unwrap();
        assert_eq!(kind, "hash");
    }
}

/// A sorted set's members and scores, lowest first.
fn scored(con: &mut redis::Connection, key: &str) -> Vec<(String, f64)> {
    redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(con).unwrap()
}

fn sorted_sets_keep_every_member_and_the_later_score(extra: &[&str]) {
    let mesh = Mesh::start(extra);
    let mut c = mesh.clients();
    let _: i64 = redis::cmd("ZADD").arg("z").arg(&["1", "x", "2", "y", "3", "gone"]).query(&mut c[0]).unwrap();
    mesh.settle();
    mesh.cut();
    let _: i64 = c[0].zadd("z", "from-a", 10).unwrap();
    let _: f64 = redis::cmd("ZINCRBY").arg("z").arg(5).arg("x").query(&mut c[0]).unwrap(); // 6 on a
    let _: i64 = c[2].zrem("z", "gone").unwrap(); // seen by no one else: it goes everywhere
    let _: i64 = c[2].zrem("z", "y").unwrap(); // takes only the write of y it saw...
    std::thread::sleep(Duration::from_millis(20));
    let _: i64 = c[1].zadd("z", "from-b", 20).unwrap();
    let _: i64 = c[1].zadd("z", "x", 7).unwrap(); // later than a's ZINCRBY: its score wins
    let _: i64 = c[0].zadd("z", "y", 4).unwrap(); // ...not this concurrent write of y on a
    mesh.heal();
    let expected = [("y".to_string(), 4.0), ("x".into(), 7.0), ("from-a".into(), 10.0), ("from-b".into(), 20.0)];
    for con in c.iter_mut() {
        assert_eq!(scored(con, "z"), expected);
    }
    // A pop after the heal takes the member once, everywhere.
    let popped: Vec<String> = redis::cmd("ZPOPMIN").arg("z").query(&mut c[1]).unwrap();
    assert_eq!(popped, ["y", "4"]);
    mesh.settle();
    for con in c.iter_mut() {
        assert_eq!(scored(con, "z"), expected[1..]);
    }
}

#[test]
fn three_masters_keep_every_sorted_set_member() {
    sorted_sets_keep_every_member_and_the_later_score(&[]);
}

#[test]
fn three_flash_masters_keep_every_sorted_set_member() {
    sorted_sets_keep_every_member_and_the_later_score(&FLASH_MASTER[6..]);
}

#[test]
fn three_masters_keep_every_hash_field() {
    hashes_keep_every_field_and_the_later_value(&[]);
}

#[test]
fn three_flash_masters_keep_every_hash_field() {
    hashes_keep_every_field_and_the_later_value(&FLASH_MASTER[6..]);
}

#[test]
fn three_masters_keep_every_increment() {
    counters_keep_every_increment(&[]);
}

#[test]
fn three_masters_keep_every_set_add() {
    sets_keep_every_add_a_remove_did_not_see(&[]);
}

#[test]
fn three_flash_masters_keep_every_increment() {
    counters_keep_every_increment(&FLASH_MASTER[6..]);
}

#[test]
fn three_flash_masters_keep_every_set_add() {
    sets_keep_every_add_a_remove_did_not_see(&FLASH_MASTER[6..]);
}

/// Without replication INCR and SADD answer as they always did (they keep plain values: a
/// standalone node's transactions do not feed replication, so no counter or dotted set is made).
#[test]
fn a_standalone_node_keeps_plain_values() {
    let node = TestServer::start_with(&["--save", ""]);
    let mut con = node.client();
    assert_eq!(con.incr::<_, _, i64>("n", 41).unwrap(), 41);
    assert_eq!(con.incr::<_, _, i64>("n", 1).unwrap(), 42);
    assert_eq!(con.sadd::<_, _, i64>("s", &["a", "b"]).unwrap(), 2);
    assert_eq!(con.srem::<_, _, i64>("s", "a").unwrap(), 1);
    let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg("n").query(&mut con).unwrap();
    assert_eq!(encoding, "int");
    assert_eq!(sorted_members(&mut con, "s"), ["b"]);
}

/// What a master's backlog holds now, in bytes (everything it sent, while nothing wrapped).
fn backlog_bytes(node: &TestServer) -> u64 {
    crate::harness::info_field(&mut node.client(), "replication", "repl_backlog_histlen").parse().unwrap()
}

/// A change to a large dotted set, hash or sorted set travels as its delta: what the command
/// added, wrote or removed, not the whole collection (a full sync still sends the whole state). The peer that
/// applies the deltas ends up with exactly the master's collections.
fn deltas_not_collections(extra: &[&str]) {
    let mut args = vec!["--repl-backlog-size", "256mb"];
    args.extend_from_slice(extra);
    let (a, b) = (master(&args), master(&args));
    pull(&a, b.port);
    pull(&b, a.port);
    let mut con = a.client();
    let members: Vec<String> = (0..10_000).map(|i| format!("member:{i:05}")).collect();
    let _: i64 = con.sadd("big", &members).unwrap();
    let fields: Vec<(String, String)> = (0..10_000).map(|i| (format!("field:{i:05}"), format!("value {i}"))).collect();
    let _: () = con.hset_multiple("bighash", &fields).unwrap();
    let scores: Vec<(f64, String)> = (0..10_000).map(|i| (i as f64, format!("member:{i:05}"))).collect();
    let _: i64 = con.zadd_multiple("bigzset", &scores).unwrap();
    // The first write makes each key dotted, and sends it whole; the second is a delta.
    let _: i64 = con.sadd("big", "warm").unwrap();
    let _: i64 = con.hset("bighash", "warm", "up").unwrap();
    let _: i64 = con.zadd("bigzset", "warm", -1).unwrap();
    converge(&[&a, &b], Duration::from_secs(20));

    let before = backlog_bytes(&a);
    for i in 0..100 {
        let _: i64 = con.sadd("big", format!("new:{i}")).unwrap();
        let _: i64 = con.srem("big", format!("member:{i:05}")).unwrap();
        let _: i64 = con.hset("bighash", format!("field:{i:05}"), format!("new value {i}")).unwrap();
        let _: i64 = con.hdel("bighash", format!("field:{:05}", 5000 + i)).unwrap();
        let _: i64 = con.zadd("bigzset", format!("member:{i:05}"), 20_000 + i).unwrap();
        let _: i64 = con.zrem("bigzset", format!("member:{:05}", 5000 + i)).unwrap();
    }
    let per_write = (backlog_bytes(&a) - before) / 600;
    // A whole set of 10,000 members is over 200 KB; one member, its dot and what it replaced
    // fit in a few hundred bytes with the frame's key and stamps.
    assert!(per_write < 400, "{per_write} bytes per write on the link: whole collections, not deltas");

    let digest = converge(&[&a, &b], Duration::from_secs(20));
    assert!(!digest.is_empty());
    let mut peer = b.client();
    let on_b = sorted_members(&mut peer, "big");
    assert_eq!(on_b, sorted_members(&mut con, "big"));
    assert_eq!(on_b.len(), 10_001);
    assert!(on_b.contains(&"new:99".to_string()) && !on_b.contains(&"member:00099".to_string()));
    assert_eq!(sorted_pairs(&mut peer, "bighash"), sorted_pairs(&mut con, "bighash"));
    let value: String = peer.hget("bighash", "field:00042").unwrap();
    assert_eq!(value, "new value 42");
    assert!(!peer.hexists::<_, _, bool>("bighash", "field:05042").unwrap());
    assert_eq!(scored(&mut peer, "bigzset"), scored(&mut con, "bigzset"));
    let score: f64 = peer.zscore("bigzset", "member:00042").unwrap();
    assert_eq!(score, 20_042.0);
}

#[test]
fn a_change_to_a_large_set_or_hash_travels_as_its_delta() {
    deltas_not_collections(&[]);
}

#[test]
fn a_change_to_a_large_flash_set_or_hash_travels_as_its_delta() {
    deltas_not_collections(&FLASH_MASTER[6..]);
}

/// A master killed (-9) after a snapshot, with adds made since that its peer holds and it has
/// lost, restarts from the snapshot and writes the set again before it hears from the peer. Its
/// copy's reading of its own writes is from the earlier run, and covers the lost adds it does not
/// hold: a delta would leave the peer keeping them and this node keeping them out, for good (the
/// Jepsen-style campaign's seed 3004 found it). Its first change travels whole instead, and the two
/// agree.
#[test]
fn a_master_restarted_from_an_older_snapshot_converges_with_a_peer_that_kept_its_lost_adds() {
    let dir_b = crate::harness::workdir("crdt-restart-b");
    let args = ["--active-replica", "yes", "--multi-master", "yes", "--save", "", "--repl-timeout", "2"];
    let a = TestServer::start_with(&args);
    let mut b = TestServer::start_in(&dir_b, &args);
    let (to_a, to_b) = (Proxy::start(a.port), Proxy::start(b.port));
    pull(&a, to_b.port);
    pull(&b, to_a.port);
    let mut con = b.client();
    let _: i64 = con.sadd("s", &["saved-1", "saved-2"]).unwrap();
    let _: i64 = con.sadd("s", "saved-3").unwrap();
    converge(&[&a, &b], Duration::from_secs(20));
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let _: i64 = con.sadd("s", "lost-1").unwrap();
    let _: i64 = con.sadd("s", "lost-2").unwrap();
    converge(&[&a, &b], Duration::from_secs(20));
    to_a.cut();
    to_b.cut();
    b.signal("KILL");
    assert!(b.wait_exit(Duration::from_secs(10)));
    let port = b.port;
    drop(b);
    let b = TestServer::start_at(&dir_b, port, &args);
    let mut con = b.client();
    assert_eq!(sorted_members(&mut con, "s"), ["saved-1", "saved-2", "saved-3"], "restarted from the snapshot");
    pull(&b, to_a.port);
    let _: i64 = con.sadd("s", "after-1").unwrap();
    let _: i64 = con.sadd("s", "after-2").unwrap();
    to_a.heal();
    to_b.heal();
    converge(&[&a, &b], Duration::from_secs(30));
    let on_b = sorted_members(&mut con, "s");
    assert_eq!(sorted_members(&mut a.client(), "s"), on_b);
    for member in ["saved-1", "saved-2", "saved-3", "after-1", "after-2"] {
        assert!(on_b.contains(&member.to_string()), "{member} missing from {on_b:?}");
    }
}

/// A node that joins the mesh after a set was deleted on one master while another added to it
/// gets, by full sync from the first, what the delete left (its ghost: the adds it saw), not a
/// bare tombstone, and so keeps the concurrent add it then gets from the second, as they do.
#[test]
fn a_full_sync_carries_what_a_deleted_set_leaves() {
    let args = ["--repl-timeout", "2", "--repl-backlog-size", "64kb"];
    let (a, b) = (master(&args), master(&args));
    let (to_a, to_b) = (Proxy::start(a.port), Proxy::start(b.port));
    pull(&a, to_b.port);
    pull(&b, to_a.port);
    let (mut ca, mut cb) = (a.client(), b.client());
    let _: i64 = ca.sadd("s", &["seen-1", "seen-2"]).unwrap();
    let _: i64 = ca.sadd("s", "seen-3").unwrap();
    converge(&[&a, &b], Duration::from_secs(20));
    to_a.cut();
    to_b.cut();
    let _: i64 = ca.del("s").unwrap();
    let _: i64 = cb.sadd("s", "concurrent").unwrap();
    // C starts empty and syncs in full from A (whose backlog no longer holds the DEL), then from
    // B.
    let filler = "f".repeat(64 * 1024);
    for i in 0..8 {
        let _: () = ca.set(format!("filler:{i}"), &filler).unwrap();
    }
    let c = master(&args);
    pull(&c, a.port);
    converge(&[&a, &c], Duration::from_secs(20));
    let line = crate::harness::info_field(&mut c.client(), "replication", "peer0");
    assert!(line.contains("sync=full"), "C was to sync in full from A: {line}");
    pull(&c, b.port);
    to_a.heal();
    to_b.heal();
    converge(&[&a, &b, &c], Duration::from_secs(30));
    for con in [&mut ca, &mut cb, &mut c.client()] {
        assert_eq!(sorted_members(con, "s"), ["concurrent"]);
    }
}
