//! Integration tests for the zsets commands.
use super::harness::TestServer;
