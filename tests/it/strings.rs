//! Integration tests for the string commands.

use super::harness::TestServer;
use redis::Commands;

#[test]
fn set_get_with_options() {
    let server = TestServer::start();
    let mut c = server.client();
    let _: () = c.set("k", "v").unwrap();
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v");
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SET", "k", "w", "NX"]), "$-1\r\n");
    assert_eq!(raw.call(&["SET", "k", "w", "XX", "GET"]), "$1\r\nv\r\n");
    assert_eq!(raw.call(&["SET", "k", "w", "EX", "0"]), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(raw.call(&["SET", "k", "w", "NX", "XX"]), "-ERR syntax error\r\n");
}
