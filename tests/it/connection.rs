//! Integration tests for the connection commands.
use super::harness::TestServer;
