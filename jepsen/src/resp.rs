//! A small blocking RESP2 client with deadlines on everything.
//!
//! The suite needs to know, for every request, whether it certainly did not happen (the connection
//! could not be made, or the server answered an error), certainly happened (a reply), or may have
//! happened (the request was sent and no reply came in time): Jepsen's fail / ok / info. A general
//! client library hides that line behind reconnects and retries, so this one does neither.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nil,
    Int(i64),
    Simple(String),
    Bulk(Vec<u8>),
    Error(String),
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as text, for bulk and simple strings.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Simple(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            Reply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    pub fn array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Why a request got no reply.
#[derive(Debug)]
pub enum ClientError {
    /// The request never reached the server: it did not happen.
    NotSent(io::Error),
    /// The request was (possibly) sent but no complete reply came back: it may have happened.
    Unknown(io::Error),
    /// The server answered with something this client cannot read.
    Protocol(String),
    /// The operation completed, but a follow-up read of its details (a stamp) got no answer: the
    /// operation is done, the connection is not to be trusted.
    AfterOk(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NotSent(e) => write!(f, "not sent: {e}"),
            ClientError::Unknown(e) => write!(f, "no reply: {e}"),
            ClientError::Protocol(e) => write!(f, "protocol: {e}"),
            ClientError::AfterOk(e) => write!(f, "done, but its details are unknown: {e}"),
        }
    }
}

/// One connection to one node.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects with `timeout` for the connection and for every later read and write.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Conn, ClientError> {
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(ClientError::NotSent)?;
        stream.set_read_timeout(Some(timeout)).map_err(ClientError::NotSent)?;
        stream.set_write_timeout(Some(timeout)).map_err(ClientError::NotSent)?;
        stream.set_nodelay(true).map_err(ClientError::NotSent)?;
        let writer = stream.try_clone().map_err(ClientError::NotSent)?;
        Ok(Conn { reader: BufReader::new(stream), writer })
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        self.send(args)?;
        self.read()
    }

    /// Sends `MULTI`, the commands, `EXEC`, and returns EXEC's reply (the array of their replies).
    pub fn transaction(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Reply, ClientError> {
        let mut buf = Vec::new();
        encode(&mut buf, &[b"MULTI".as_slice()]);
        for c in commands {
            encode(&mut buf, c);
        }
        encode(&mut buf, &[b"EXEC".as_slice()]);
        self.writer.write_all(&buf).map_err(ClientError::Unknown)?;
        // Every reply is read, so that none is left to be taken for the next request's.
        if let Reply::Error(e) = self.read()? {
            // MULTI refused: the commands ran on their own, or not. Who knows: unknown.
            for _ in 0..=commands.len() {
                self.read()?;
            }
            return Err(ClientError::Unknown(io::Error::other(format!("MULTI refused: {e}"))));
        }
        for _ in 0..commands.len() {
            self.read()?; // +QUEUED, or an error that makes EXEC answer -EXECABORT
        }
        self.read()
    }

    fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), ClientError> {
        let mut buf = Vec::new();
        encode(&mut buf, args);
        // A write error may come after part of the request left: the server may have run it.
        self.writer.write_all(&buf).map_err(ClientError::Unknown)
    }

    fn read(&mut self) -> Result<Reply, ClientError> {
        read_reply(&mut self.reader)
    }
}

fn encode<A: AsRef<[u8]>>(buf: &mut Vec<u8>, args: &[A]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

fn read_line(r: &mut impl BufRead) -> Result<String, ClientError> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).map_err(ClientError::Unknown)?;
    if !line.ends_with(b"\r\n") {
        return Err(ClientError::Unknown(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| ClientError::Protocol("a reply line that is not UTF-8".into()))
}

fn read_reply(r: &mut impl BufRead) -> Result<Reply, ClientError> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || rest.parse::<i64>().map_err(|_| ClientError::Protocol(format!("bad length in {line:?}")));
    Ok(match kind {
        "+" => Reply::Simple(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(number()?),
        "$" => match number()? {
            -1 => Reply::Nil,
            n => {
                let mut data = vec![0u8; n as usize + 2];
                io::Read::read_exact(r, &mut data).map_err(ClientError::Unknown)?;
                data.truncate(n as usize);
                Reply::Bulk(data)
            }
        },
        "*" => match number()? {
            -1 => Reply::Nil,
            n => (0..n).map(|_| read_reply(r)).collect::<Result<_, _>>().map(Reply::Array)?,
        },
        _ => return Err(ClientError::Protocol(format!("unknown reply type in {line:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_replies() {
        let mut input: &[u8] = b"*3\r\n+OK\r\n*2\r\n:5\r\n$-1\r\n$3\r\nabc\r\n";
        let got = read_reply(&mut input).unwrap();
        assert_eq!(
            got,
            Reply::Array(vec![
                Reply::Simple("OK".into()),
                Reply::Array(vec![Reply::Int(5), Reply::Nil]),
                Reply::Bulk(b"abc".to_vec())
            ])
        );
    }

    #[test]
    fn a_cut_reply_is_an_unknown_outcome() {
        let mut input: &[u8] = b"$10\r\nabc";
        assert!(matches!(read_reply(&mut input), Err(ClientError::Unknown(_))));
    }
}
