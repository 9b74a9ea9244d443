//! Integration tests for the transactions commands.
use super::harness::TestServer;
