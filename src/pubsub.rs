//! Pub/sub: who listens to which channel or pattern, and delivery of PUBLISHed messages.
//!
//! Each subscriber has an inbox (an unbounded channel) that its connection task drains and encodes
//! in the subscriber's own protocol; what waits in it counts against the subscriber's
//! `client-output-buffer-limit` (see [`crate::client::Inbox`]). PUBLISH only takes a read lock on
//! the registry; SUBSCRIBE and UNSUBSCRIBE take the write lock. None of this is on the key-value
//! hot path.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::client::Inbox;
use crate::log::Logger;
use crate::output_limit::OutputLimits;

/// Something for a client's inbox, written out by its connection task between replies.
#[derive(Clone, Debug)]
pub enum Message {
    /// A PUBLISHed message on its way to one subscriber.
    Publish {
        /// The pattern that matched, for pattern subscriptions.
        pattern: Option<Bytes>,
        /// The channel it was published to.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A MONITOR line, already encoded as a status reply (see [`crate::monitor`]).
    Monitor(Bytes),
    /// A client-side caching invalidation (see [`crate::tracking`]): these keys, or all of them
    /// (None, a flush). `as_message`: for a RESP2 redirect client in Pub/Sub mode, a message on
    /// `__redis__:invalidate`; otherwise a RESP3 `invalidate` push.
    Invalidate {
        /// The keys.
        keys: Option<Vec<Bytes>>,
        /// Sent as a Pub/Sub message.
        as_message: bool,
    },
    /// The `tracking-redir-broken` push: the redirect client (this id) is gone.
    RedirectBroken(u64),
}

impl Message {
    /// About the bytes it takes once encoded (its fields and the RESP framing around them),
    /// counted against the receiver's output limits while it waits.
    pub fn size(&self) -> usize {
        match self {
            Message::Publish { pattern, channel, payload } => {
                48 + pattern.as_ref().map_or(0, |p| p.len() + 16) + channel.len() + payload.len()
            }
            Message::Monitor(line) => line.len(),
            Message::Invalidate { keys, .. } => {
                48 + keys.as_ref().map_or(0, |k| k.iter().map(|k| k.len() + 16).sum::<usize>())
            }
            Message::RedirectBroken(_) => 48,
        }
    }
}

type Subscribers = HashMap<u64, Inbox>;

/// The subscription registry.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subscribers>>,
    patterns: RwLock<HashMap<Bytes, Subscribers>>,
    /// Clients in MONITOR mode.
    pub monitors: crate::monitor::Monitors,
}

impl PubSub {
    /// Subscribes client `id` to `channel`.
    pub fn subscribe(&self, id: u64, channel: Bytes, inbox: Inbox) {
        self.channels.write().entry(channel).or_default().insert(id, inbox);
    }

    /// Unsubscribes client `id` from `channel`.
    pub fn unsubscribe(&self, id: u64, channel: &Bytes) {
        let mut channels = self.channels.write();
        if let Some(subs) = channels.get_mut(channel) {
            subs.remove(&id);
            if subs.is_empty() {
                channels.remove(channel);
            }
        }
    }

    /// Subscribes client `id` to `pattern`.
    pub fn psubscribe(&self, id: u64, pattern: Bytes, inbox: Inbox) {
        self.patterns.write().entry(pattern).or_default().insert(id, inbox);
    }

    /// Unsubscribes client `id` from `pattern`.
    pub fn punsubscribe(&self, id: u64, pattern: &Bytes) {
        let mut patterns = self.patterns.write();
        if let Some(subs) = patterns.get_mut(pattern) {
            subs.remove(&id);
            if subs.is_empty() {
                patterns.remove(pattern);
            }
        }
    }

    /// Delivers a message; returns the number of receiving subscriptions (PUBLISH's reply). A
    /// subscriber it puts over its output limits is closed.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes, limits: &OutputLimits, log: &Logger) -> usize {
        let mut receivers = 0;
        if let Some(subs) = self.channels.read().get(channel) {
            for inbox in subs.values() {
                let msg = Message::Publish { pattern: None, channel: channel.clone(), payload: payload.clone() };
                receivers += inbox.send(msg, limits, log) as usize;
            }
        }
        for (pattern, subs) in self.patterns.read().iter() {
            if crate::glob::matches(pattern, channel, false) {
                for inbox in subs.values() {
                    let msg = Message::Publish {
                        pattern: Some(pattern.clone()),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    receivers += inbox.send(msg, limits, log) as usize;
                }
            }
        }
        receivers
    }

    /// Channels with at least one subscriber, optionally filtered by a glob (PUBSUB CHANNELS).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of a channel (PUBSUB NUMSUB).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, |s| s.len())
    }

    /// The channels and patterns client `id` subscribes to (an ACL change checks them).
    pub fn subscriptions_of(&self, id: u64) -> (Vec<Bytes>, Vec<Bytes>) {
        let of = |map: &RwLock<HashMap<Bytes, Subscribers>>| {
            map.read().iter().filter(|(_, subs)| subs.contains_key(&id)).map(|(name, _)| name.clone()).collect()
        };
        (of(&self.channels), of(&self.patterns))
    }

    /// Number of distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}
