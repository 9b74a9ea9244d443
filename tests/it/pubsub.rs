//! Integration tests for the pubsub commands.
use super::harness::TestServer;
