//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.

use bytes::Bytes;

use super::CommandSpec;
use crate::client::ClientState;
use crate::server::Server;

pub(super) static COMMANDS: &[CommandSpec] = &[];

/// Drops every subscription of a client (RESET, disconnect).
pub fn unsubscribe_all(server: &Server, client: &mut ClientState) {
    let id = client.handle.id;
    for channel in client.channels.drain() {
        server.pubsub.unsubscribe(id, &channel);
    }
    for pattern in client.patterns.drain() {
        server.pubsub.punsubscribe(id, &pattern);
    }
    let _: Option<Bytes> = None;
}
