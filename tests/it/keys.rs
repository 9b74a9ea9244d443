//! Integration tests for the keys commands.
use super::harness::TestServer;
