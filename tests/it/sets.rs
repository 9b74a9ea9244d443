//! Integration tests for the sets commands.
use super::harness::TestServer;
