//! meshkv-server: the Redis-protocol server around the meshkv keyspace.
//!
//! Owns configuration, the network edge (RESP parsing and replies), client state, the command
//! table and every command's Redis semantics, and the background tasks. Redis error strings exist
//! only here. Must never hold a shard lock across an `.await`.

pub mod acl;
pub mod aof;
pub mod client;
pub mod commands;
pub mod config;
pub mod connection;
pub mod error;
pub mod glob;
pub mod listener;
pub mod log;
pub mod memory;
pub mod monitor;
pub mod notify;
pub mod output_limit;
pub mod pause;
pub mod persistence;
pub mod process;
pub mod protocol;
pub mod pubsub;
pub mod reader;
pub mod scripting;
pub mod server;
pub mod slowlog;
pub mod tls;
pub mod tracking;

/// The Redis version whose semantics meshkv follows (HELLO and INFO report it, so clients that
/// check versions enable what they may use).
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
