//! FLASH tier: reading cold keys off the command workers.
//!
//! A connection whose pipeline needs keys that are only on flash hands them to a small pool of
//! reader threads and waits (asynchronously: the worker serves its other clients meanwhile). The
//! pool takes every request queued at once and is woken only when a reader is idle, so under load
//! a burst of misses from many connections costs one wake-up, not one thread hand-off each (as a
//! `spawn_blocking` per miss would).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use meshkv_storage::{Key, Stamp};
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::server::Server;

/// Reader threads: one per four cores (at least one, at most eight). A read of a block in the
/// operating system's page cache is CPU work, so readers compete with the command workers; on 2
/// cores a second reader lowered skewed GETs from 0.76–0.82 to 0.62–0.69 of all-in-RAM in
/// benches/flash.py (and raised flash reads per request from 0.10–0.13 to 0.16–0.23: more reads in
/// flight bring more one-off keys into RAM at once, pushing hot ones out). Several readers overlap
/// device reads where there are cores to spare for them.
fn reader_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 4).clamp(1, 8)
}

struct Job {
    db: usize,
    keys: Vec<Key>,
    now_ms: u64,
    /// Answered with the keys brought in only for this read's commands (see `Keyspace::preload`).
    done: oneshot::Sender<Vec<(Key, Stamp)>>,
}

/// The queue the reader threads serve.
#[derive(Default)]
pub struct Readers {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    idle: AtomicUsize,
}

impl Readers {
    /// Starts the reader threads of `server`. They hold the server weakly and end with it.
    pub fn start(server: &Arc<Server>) -> std::io::Result<()> {
        for i in 0..reader_threads() {
            let (readers, server) = (server.readers.clone(), Arc::downgrade(server));
            std::thread::Builder::new().name(format!("meshkv-reader-{i}")).spawn(move || readers.serve(server))?;
        }
        Ok(())
    }

    /// Reads `keys` of `db` from flash into RAM (those still live at `now_ms`), then makes room.
    /// Returns the keys brought in only for the caller's commands: it hands them to
    /// `Keyspace::let_go` once those have run.
    pub async fn read(&self, db: usize, keys: Vec<Key>, now_ms: u64) -> Vec<(Key, Stamp)> {
        let (done, finished) = oneshot::channel();
        self.queue.lock().push_back(Job { db, keys, now_ms, done });
        if self.idle.load(Ordering::Acquire) > 0 {
            self.ready.notify_one();
        }
        finished.await.unwrap_or_default()
    }

    /// A reader thread: takes every queued job at once, runs them, and sleeps when there are none.
    fn serve(&self, server: Weak<Server>) {
        let mut jobs: Vec<Job> = Vec::new();
        loop {
            {
                let mut queue = self.queue.lock();
                while queue.is_empty() {
                    self.idle.fetch_add(1, Ordering::AcqRel);
                    self.ready.wait(&mut queue);
                    self.idle.fetch_sub(1, Ordering::AcqRel);
                }
                jobs.extend(queue.drain(..));
            }
            let Some(server) = server.upgrade() else { return };
            for job in jobs.drain(..) {
                // A panic here must not end the thread: the jobs queued behind it would wait
                // forever. The job's command then runs without its keys read ahead (it reads
                // them itself), as after any failed read.
                let mut passing = Vec::new();
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.keyspace.preload(job.db, &job.keys, job.now_ms, &mut passing)
                }));
                // The client goes on first; making room for what came in is not its wait.
                let _ = job.done.send(passing);
                match loaded {
                    Ok(loaded) => crate::memory::make_room_for(&server, loaded),
                    Err(_) => server.log.warning("a flash read panicked; its command reads its keys itself"),
                }
            }
        }
    }
}
