//! Integration tests for the hashes commands.
use super::harness::TestServer;
