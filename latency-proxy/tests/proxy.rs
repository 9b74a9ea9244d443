//! The proxy against a real echo server over loopback TCP: bytes arrive intact and in order, no
//! sooner than the delay allows, and a delay set through the control port takes effect.
//! Only lower bounds are asserted: a loaded machine can make a link slower, never faster.

use std::time::{Duration, Instant};

use meshkv_latency_proxy::{control, Delay, Link};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    // By name, so the proxy's per-connection resolution is exercised.
    format!("localhost:{}", addr.port())
}

async fn round_trip(addr: std::net::SocketAddr, payload: &[u8]) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(payload).await.unwrap();
    s.shutdown().await.unwrap(); // the half-close travels through and ends the echo
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    (back, start.elapsed())
}

#[tokio::test]
async fn delays_both_ways_and_keeps_order() {
    let upstream = echo_server().await;
    let delay = Delay::new(Duration::from_millis(100), Duration::from_millis(30));
    let link = Link::bind("127.0.0.1:0", &upstream, delay).await.unwrap();
    let addr = link.local_addr().unwrap();
    tokio::spawn(link.run());

    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let (back, took) = round_trip(addr, &payload).await;
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "bytes reordered or changed");
    assert!(took >= Duration::from_millis(200), "a round trip took {took:?}, under twice the delay");
}

#[tokio::test]
async fn control_port_changes_the_delay() {
    let upstream = echo_server().await;
    let delay = Delay::new(Duration::ZERO, Duration::ZERO);
    let link = Link::bind("127.0.0.1:0", &upstream, delay.clone()).await.unwrap();
    let addr = link.local_addr().unwrap();
    tokio::spawn(link.run());
    let ctl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ctl_addr = ctl.local_addr().unwrap();
    tokio::spawn(control(ctl, delay));

    let mut c = BufReader::new(TcpStream::connect(ctl_addr).await.unwrap());
    c.get_mut().write_all(b"delay 150\nget\nbogus\n").await.unwrap();
    let mut line = String::new();
    for expected in ["OK", "delay 150 0"] {
        line.clear();
        c.read_line(&mut line).await.unwrap();
        assert_eq!(line.trim(), expected);
    }
    line.clear();
    c.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("ERR "), "{line}");

    let (back, took) = round_trip(addr, b"ping").await;
    assert_eq!(back, b"ping");
    assert!(took >= Duration::from_millis(300), "took {took:?} with a 150 ms delay each way");
}

#[tokio::test]
async fn unreachable_upstream_closes_the_client() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let link = Link::bind("127.0.0.1:0", &format!("127.0.0.1:{port}"), Delay::new(Duration::ZERO, Duration::ZERO))
        .await
        .unwrap();
    let addr = link.local_addr().unwrap();
    tokio::spawn(link.run());
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("not closed").unwrap_or(0);
    assert_eq!(n, 0);
}
