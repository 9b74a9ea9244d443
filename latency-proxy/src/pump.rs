//! The delayed copy of one connection, in both directions.
//!
//! Each direction is a reader and a writer joined by a bounded queue of `(due, chunk)`: the reader
//! stamps every chunk with the instant it may leave, the writer sleeps until then. So the delay
//! is per byte, not per request, and a pipelined stream keeps its throughput (a reader that
//! slept would add the delay once per chunk, one after another). Due times never go backwards, so
//! jitter cannot reorder bytes. The bounded queue is the back-pressure: a receiver that stops
//! reading stops the sender, as on a real link.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Delay;

/// Chunks in flight per direction before the reader waits.
const QUEUE: usize = 256;
/// The most one read takes.
const CHUNK: usize = 64 * 1024;

/// Copies `a` to `b` and `b` to `a`, each delayed, until both directions have ended.
pub(crate) async fn both_ways(a: TcpStream, b: TcpStream, delay: Arc<Delay>) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let (a_read, a_write) = a.into_split();
    let (b_read, b_write) = b.into_split();
    tokio::join!(one_way(a_read, b_write, delay.clone()), one_way(b_read, a_write, delay));
}

/// One direction: when the source ends, the destination's write side is shut down after the
/// last held chunk has left, so a half-close travels through the proxy as it would without it.
async fn one_way(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Arc<Delay>) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Bytes)>(QUEUE);
    let reader = async move {
        let mut last_due = Instant::now();
        loop {
            let mut buf = BytesMut::with_capacity(CHUNK);
            match from.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let due = (Instant::now() + delay.sample()).max(last_due);
                    last_due = due;
                    if tx.send((due, buf.freeze())).await.is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `tx` tells the writer the source has ended.
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
