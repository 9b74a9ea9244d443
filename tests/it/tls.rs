//! TLS: clients on `tls-port` and peer links with `tls-replication yes`, against the real binary,
//! with certificates made by scripts/tls-certs.sh (real openssl) and a real TLS client (redis-cli
//! --tls, built with OpenSSL, so rustls is checked against another implementation).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use redis::Commands;

use crate::harness::{free_port, info_field, server_binary, workdir, TestServer};

/// Two authorities' worth of certificates: `good/` (the one the nodes trust: ca, node, client,
/// peer, and `elsewhere`, which names only "elsewhere") and `other/` (a stranger's CA with its own
/// node and client certificates).
fn certificates(name: &str) -> PathBuf {
    let dir = workdir(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tls-certs.sh");
    let sets: [(&str, &[&str], &str); 3] = [
        ("good", &["node", "client", "peer"], "DNS:localhost,IP:127.0.0.1"),
        ("good", &["elsewhere"], ""),
        ("other", &["node", "client"], "DNS:localhost,IP:127.0.0.1"),
    ];
    for (sub, names, sans) in sets {
        let out = Command::new("bash").arg(&script).arg(dir.join(sub)).args(names).env("TLS_EXTRA_SANS", sans).output();
        let out = out.unwrap();
        assert!(out.status.success(), "tls-certs.sh: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

/// `--tls-*` arguments for a node with `ca/cert.crt`, trusting `trust/ca.crt`, on `tls_port`.
fn tls_args(certs: &Path, ca: &str, cert: &str, trust: &str, tls_port: u16) -> Vec<String> {
    let file = |sub: &str, name: &str| certs.join(sub).join(name).to_string_lossy().into_owned();
    vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file(ca, &format!("{cert}.crt")),
        "--tls-key-file".into(),
        file(ca, &format!("{cert}.key")),
        "--tls-ca-cert-file".into(),
        file(trust, "ca.crt"),
    ]
}

fn start(args: &[String]) -> TestServer {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start_with(&args)
}

/// Runs redis-cli over TLS against `port`; its stdout and stderr together.
fn redis_cli_tls(port: u16, tls: &[String], command: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["--tls", "-p", &port.to_string()])
        .args(tls)
        .args(command)
        .output()
        .expect("redis-cli runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
}

/// redis-cli's TLS arguments: trust `trust/ca.crt`, present `ca/name.crt` when `name` is given.
fn cli_tls(certs: &Path, trust: &str, client: Option<(&str, &str)>) -> Vec<String> {
    let mut args = vec!["--cacert".to_string(), certs.join(trust).join("ca.crt").to_string_lossy().into_owned()];
    if let Some((ca, name)) = client {
        args.push("--cert".into());
        args.push(certs.join(ca).join(format!("{name}.crt")).to_string_lossy().into_owned());
        args.push("--key".into());
        args.push(certs.join(ca).join(format!("{name}.key")).to_string_lossy().into_owned());
    }
    args
}

#[test]
fn a_client_with_a_trusted_certificate_is_served_and_others_are_refused() {
    let certs = certificates("tls-clients");
    let tls_port = free_port();
    let node = start(&tls_args(&certs, "good", "node", "good", tls_port));

    let trusted = cli_tls(&certs, "good", Some(("good", "client")));
    assert_eq!(redis_cli_tls(tls_port, &trusted, &["SET", "k", "over tls"]), "OK");
    assert_eq!(redis_cli_tls(tls_port, &trusted, &["GET", "k"]), "over tls");
    // The plain port is still there, on the same data.
    assert_eq!(node.client().get::<_, String>("k").unwrap(), "over tls");

    // A client certificate from another authority, and none at all (tls-auth-clients yes).
    for client in [Some(("other", "client")), None] {
        let reply = redis_cli_tls(tls_port, &cli_tls(&certs, "good", client), &["PING"]);
        assert!(!reply.contains("PONG"), "{client:?} was served: {reply}");
    }
    // A client that does not trust the node's authority refuses it itself.
    let reply = redis_cli_tls(tls_port, &cli_tls(&certs, "other", Some(("other", "client"))), &["PING"]);
    assert!(reply.contains("certificate verify failed"), "{reply}");
    // Plain RESP on the TLS port is not TLS: dropped, and the node stays up.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    std::io::Write::write_all(&mut raw, b"PING\r\n").unwrap();
    assert_eq!(redis::cmd("PING").query::<String>(&mut node.client()).unwrap(), "PONG");
}

#[test]
fn tls_auth_clients_no_and_optional_serve_clients_without_a_certificate() {
    let certs = certificates("tls-auth-optional");
    for mode in ["no", "optional"] {
        let tls_port = free_port();
        let mut args = tls_args(&certs, "good", "node", "good", tls_port);
        args.extend(["--tls-auth-clients".to_string(), mode.to_string()]);
        let _node = start(&args);
        assert_eq!(redis_cli_tls(tls_port, &cli_tls(&certs, "good", None), &["PING"]), "PONG", "{mode}");
        let stranger = redis_cli_tls(tls_port, &cli_tls(&certs, "good", Some(("other", "client"))), &["PING"]);
        let expected_pong = mode == "no"; // optional still checks a certificate that is sent
        assert_eq!(stranger == "PONG", expected_pong, "{mode}: {stranger}");
    }
}

/// Waits until `node`'s first peer link line satisfies `done`; returns it.
fn wait_link(node: &TestServer, done: impl Fn(&str) -> bool) -> String {
    let mut con = node.client();
    let started = Instant::now();
    loop {
        let line = info_field(&mut con, "replication", "peer0");
        if done(&line) {
            return line;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "link never got there: {line}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn replicate_from(node: &TestServer, host: &str, port: u16) {
    let reply: String = redis::cmd("REPLICAOF").arg(host).arg(port).query(&mut node.client()).unwrap();
    assert_eq!(reply, "OK");
}

#[test]
fn peers_replicate_over_tls_and_a_peer_with_a_bad_certificate_is_refused() {
    let certs = certificates("tls-peers");
    let active = ["--active-replica", "yes", "--multi-master", "yes", "--tls-replication", "yes", "--save", ""];
    let node = |ca: &str, cert: &str, tls_port: u16| {
        let mut args = tls_args(&certs, ca, cert, "good", tls_port);
        args.extend(active.iter().map(|s| s.to_string()));
        start(&args)
    };
    let (a_tls, b_tls, bad_tls) = (free_port(), free_port(), free_port());
    let a = node("good", "node", a_tls);
    let b = node("good", "peer", b_tls);

    // Both ways over TLS: the certificates name 127.0.0.1, the host dialled.
    replicate_from(&a, "127.0.0.1", b_tls);
    replicate_from(&b, "127.0.0.1", a_tls);
    wait_link(&a, |l| l.contains("state=connected"));
    wait_link(&b, |l| l.contains("state=connected"));
    let _: () = a.client().set("from-a", "1").unwrap();
    let _: () = b.client().set("from-b", "2").unwrap();
    for (node, key) in [(&b, "from-a"), (&a, "from-b")] {
        let mut con = node.client();
        let started = Instant::now();
        while !con.exists::<_, bool>(key).unwrap() {
            assert!(started.elapsed() < Duration::from_secs(10), "{key} never arrived over TLS");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // A peer whose certificate another authority signed: refused, and INFO says why.
    let c = node("good", "node", free_port());
    let _bad = node("other", "node", bad_tls);
    replicate_from(&c, "127.0.0.1", bad_tls);
    let line = wait_link(&c, |l| l.contains("last_error=TLS"));
    assert!(line.contains("state=down") || line.contains("state=connecting"), "{line}");
    assert!(line.contains("invalid peer certificate") && line.contains("UnknownIssuer"), "{line}");

    // A certificate the trusted authority signed, for another name than the host dialled.
    let elsewhere_tls = free_port();
    let _elsewhere = node("good", "elsewhere", elsewhere_tls);
    let d = node("good", "node", free_port());
    replicate_from(&d, "127.0.0.1", elsewhere_tls);
    let line = wait_link(&d, |l| l.contains("last_error=TLS"));
    assert!(line.contains("certificate not valid for name \"127.0.0.1\""), "{line}");
    // The plain port is not TLS: a TLS link to it fails and says so, and the node stays up.
    let e = node("good", "node", free_port());
    replicate_from(&e, "127.0.0.1", a.port);
    wait_link(&e, |l| l.contains("last_error=TLS"));
    assert_eq!(redis::cmd("PING").query::<String>(&mut a.client()).unwrap(), "PONG");
}

#[test]
fn tls_directives_missing_files_stop_the_server_with_the_reason() {
    let certs = certificates("tls-config");
    let dir = workdir("tls-config-run");
    let run = |args: &[&str]| {
        let out = Command::new(server_binary())
            .args(["--port", &free_port().to_string(), "--dir", dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let port = free_port().to_string();
    assert!(run(&["--tls-port", &port]).contains("tls-cert-file must be set when tls-port is set"));
    let missing = certs.join("none.crt");
    let out = run(&["--tls-port", &port, "--tls-cert-file", missing.to_str().unwrap(), "--tls-key-file", "x"]);
    assert!(out.contains("Failed to load the certificate from") && out.contains("none.crt"), "{out}");
    // A key that is not the certificate's.
    let file = |sub: &str, name: &str| certs.join(sub).join(name).to_string_lossy().into_owned();
    let (cert, key, ca) = (file("good", "node.crt"), file("good", "peer.key"), file("good", "ca.crt"));
    let out = run(&["--tls-port", &port, "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-ca-cert-file", &ca]);
    assert!(out.contains("Failed to configure TLS"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&certs);
}
