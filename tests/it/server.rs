//! Integration tests for the server commands.
use super::harness::TestServer;
