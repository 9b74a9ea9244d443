//! Client output limits: `client-output-buffer-limit` for the `normal` and `pubsub` classes (the
//! `replica` class is enforced on replication links, see `meshkv_replication`), as Redis's
//! `checkClientOutputBufferLimits`, and a cap on what one client may have waiting whatever its
//! class says (`client-reply-size-limit`).
//!
//! What counts against a client is what waits to be written to it: the replies of the pipeline
//! being run or written, and the pub/sub messages and MONITOR lines queued in its inbox. The
//! connection checks after each command (and handlers whose reply length is a client's number
//! check as they write, see [`crate::protocol::Reply::over_limit`]); a publisher checks each
//! subscriber as it queues a message, so a subscriber that stops reading is closed by the
//! publishers that fill its inbox.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::ClientHandle;
use crate::log::Logger;

/// The default `client-reply-size-limit`: 1 GiB.
pub const DEFAULT_REPLY_SIZE_LIMIT: u64 = 1024 * 1024 * 1024;

/// The least the reply cap may be lowered to by `maxmemory` (1mb, the least
/// `client-reply-size-limit` itself may be).
const MIN_CAP: u64 = 1 << 20;

/// The limits in force, mirrored out of the config so that checks take no lock.
#[derive(Default)]
pub struct OutputLimits {
    /// Hard bytes, soft bytes and soft seconds of the `normal` (0) and `pubsub` (1) classes.
    classes: [[AtomicU64; 3]; 2],
    /// The most a client may have waiting in any class: `client-reply-size-limit`, lowered to
    /// `maxmemory` when that is set (0 until configured: no cap).
    cap: AtomicU64,
}

/// Why a client is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// Its class's `client-output-buffer-limit`.
    ClassLimit,
    /// `client-reply-size-limit` (or `maxmemory`).
    ReplyCap,
}

impl OutputLimits {
    /// Takes the configured limits: `classes` as the config keeps them (normal, replica, pubsub).
    pub fn configure(&self, classes: [(u64, u64, u64); 3], reply_size_limit: u64, maxmemory: u64) {
        for (slot, (hard, soft, secs)) in self.classes.iter().zip([classes[0], classes[2]]) {
            slot[0].store(hard, Ordering::Relaxed);
            slot[1].store(soft, Ordering::Relaxed);
            slot[2].store(secs, Ordering::Relaxed);
        }
        // maxmemory lowers the cap, but not below the least `client-reply-size-limit` may be: a
        // tiny maxmemory (tests set 1 byte to get OOM replies) must not close every client that
        // has any reply waiting.
        let cap = match maxmemory {
            0 => reply_size_limit,
            m => reply_size_limit.min(m.max(MIN_CAP)),
        };
        self.cap.store(cap, Ordering::Relaxed);
    }

    /// The class of a client: `pubsub` while it has subscriptions (as Redis's `CLIENT_PUBSUB`),
    /// else `normal` (MONITOR clients too, as in Redis).
    fn class(handle: &ClientHandle) -> usize {
        let subscribed = handle.subscriptions.load(Ordering::Relaxed) + handle.patterns.load(Ordering::Relaxed) > 0;
        usize::from(subscribed)
    }

    /// The size of waiting replies at which `handle` is over its hard limit or the cap: where a
    /// handler writing a reply of a client-chosen length must stop.
    pub fn hard_bound(&self, handle: &ClientHandle) -> usize {
        let hard = self.classes[Self::class(handle)][0].load(Ordering::Relaxed);
        let cap = self.cap.load(Ordering::Relaxed);
        [hard, cap]
            .into_iter()
            .filter(|&n| n > 0)
            .min()
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The least of `handle`'s limits (hard, soft, cap): below it there is nothing to check, so
    /// the connection checks after a command only once what waits reaches it.
    pub fn lowest(&self, handle: &ClientHandle) -> usize {
        let [hard, soft, _] = &self.classes[Self::class(handle)];
        [hard.load(Ordering::Relaxed), soft.load(Ordering::Relaxed), self.cap.load(Ordering::Relaxed)]
            .into_iter()
            .filter(|&n| n > 0)
            .min()
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Redis's `checkClientOutputBufferLimits` for a client with `used` bytes waiting: over the
    /// hard limit, or over the soft limit for more than its seconds (the time it was first seen
    /// over is kept in the handle and forgotten once it is back under), or over the cap.
    pub fn check(&self, handle: &ClientHandle, used: usize) -> Option<Over> {
        let used = used as u64;
        let cap = self.cap.load(Ordering::Relaxed);
        if cap > 0 && used >= cap {
            return Some(Over::ReplyCap);
        }
        let [hard, soft, secs] = &self.classes[Self::class(handle)];
        let (hard, soft, secs) =
            (hard.load(Ordering::Relaxed), soft.load(Ordering::Relaxed), secs.load(Ordering::Relaxed));
        if hard > 0 && used >= hard {
            return Some(Over::ClassLimit);
        }
        if soft > 0 && used >= soft {
            // Milliseconds since the connection started, plus one so that 0 means "not over".
            let now = handle.created.elapsed().as_millis() as u64 + 1;
            match handle.soft_limit_since.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {}
                Err(since) if now.saturating_sub(since) > secs.saturating_mul(1000) => {
                    return Some(Over::ClassLimit);
                }
                Err(_) => {}
            }
        } else {
            handle.soft_limit_since.store(0, Ordering::Relaxed);
        }
        None
    }

    /// Checks `handle` with `used` bytes waiting and, when it is over, closes it (once) with
    /// Redis's log line. Returns true when the client is (now or already) being closed.
    pub fn enforce(&self, log: &Logger, handle: &ClientHandle, used: usize) -> bool {
        if handle.killed.load(Ordering::Acquire) {
            return true;
        }
        match self.check(handle, used) {
            Some(over) => {
                close(log, handle, over);
                true
            }
            None => false,
        }
    }
}

/// Closes a client over its output limit, logging why as Redis 7.0 does (its `omem` is what
/// waited for it).
pub fn close(log: &Logger, handle: &ClientHandle, over: Over) {
    if handle.killed.swap(true, Ordering::AcqRel) {
        return; // already closing: logged once
    }
    let info = handle.info_line();
    match over {
        Over::ClassLimit => {
            log.warning(&format!("Client {info} scheduled to be closed ASAP for overcoming of output buffer limits."))
        }
        Over::ReplyCap => log.warning(&format!(
            "Client {info} scheduled to be closed ASAP for overcoming of client-reply-size-limit (the most a client may have waiting to be written)."
        )),
    }
    handle.kill.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientRegistry;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn hard_soft_and_cap_as_redis_checks_them() {
        let limits = OutputLimits::default();
        limits.configure([(2 * MB, MB, 1), (0, 0, 0), (0, 0, 0)], 64 * MB, 0);
        let handle = ClientRegistry::default().register("a".into(), "b".into());
        let mb = MB as usize;
        assert_eq!(limits.check(&handle, mb - 1), None);
        assert_eq!(limits.check(&handle, 2 * mb), Some(Over::ClassLimit), "hard limit");
        // Over the soft limit: first seen now, not closed before its seconds have passed.
        assert_eq!(limits.check(&handle, mb), None);
        assert_eq!(limits.check(&handle, mb), None);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(limits.check(&handle, mb), Some(Over::ClassLimit), "soft limit for over a second");
        // Back under it, the clock starts again.
        assert_eq!(limits.check(&handle, 0), None);
        assert_eq!(limits.check(&handle, mb), None);
        assert_eq!(limits.hard_bound(&handle), 2 * mb);
        assert_eq!(limits.lowest(&handle), mb);
    }

    #[test]
    fn the_cap_holds_when_the_class_has_no_limit() {
        let limits = OutputLimits::default();
        limits.configure([(0, 0, 0), (0, 0, 0), (0, 0, 0)], 64 * MB, 0);
        let handle = ClientRegistry::default().register("a".into(), "b".into());
        assert_eq!(limits.check(&handle, 64 * MB as usize - 1), None);
        assert_eq!(limits.check(&handle, 64 * MB as usize), Some(Over::ReplyCap));
        assert_eq!(limits.hard_bound(&handle), 64 * MB as usize);
        // maxmemory lowers it.
        limits.configure([(0, 0, 0), (0, 0, 0), (0, 0, 0)], 64 * MB, 10 * MB);
        assert_eq!(limits.hard_bound(&handle), 10 * MB as usize);
        // Not below 1mb: a client with a reply waiting is not closed for maxmemory 1.
        limits.configure([(0, 0, 0), (0, 0, 0), (0, 0, 0)], 64 * MB, 1);
        assert_eq!(limits.hard_bound(&handle), MB as usize);
    }

    #[test]
    fn subscribers_are_in_the_pubsub_class() {
        let limits = OutputLimits::default();
        limits.configure([(0, 0, 0), (256 * MB, 64 * MB, 60), (32 * MB, 8 * MB, 60)], 1024 * MB, 0);
        let handle = ClientRegistry::default().register("a".into(), "b".into());
        assert_eq!(limits.check(&handle, 40 * MB as usize), None, "normal: no limit");
        handle.subscriptions.store(1, Ordering::Relaxed);
        assert_eq!(limits.check(&handle, 40 * MB as usize), Some(Over::ClassLimit));
    }
}
