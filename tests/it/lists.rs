//! Integration tests for the lists commands.
use super::harness::TestServer;
