//! Integration tests: the real meshkv-server binary, driven over TCP by redis-rs and raw RESP.

mod harness;

mod acl;
mod aof;
mod config;
mod conflict_free;
mod connection;
mod eviction;
mod flash;
mod flash_disk_full;
mod functions;
mod hashes;
mod keys;
mod limits;
mod lists;
mod persistence;
mod pubsub;
mod replication;
mod scripting;
mod server;
mod sets;
mod stress;
mod strings;
mod tls;
mod tracking;
mod transactions;
mod zsets;
