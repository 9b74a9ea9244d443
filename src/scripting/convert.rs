//! The conversions between Redis replies and Lua values, exactly as Redis documents them.
//!
//! A command a script calls writes its reply, as RESP, into a buffer of its own; [`resp_to_lua`]
//! reads that back as Lua values (RESP2, or RESP3 once the script called `redis.setresp(3)`).
//! [`lua_to_reply`] writes what the script returns into the client's reply.

use mlua::{Lua, Table, Value};

use crate::protocol::Reply;

/// A reply the script's command wrote, turned into a Lua value: integers are numbers, bulk
/// strings strings, a null bulk or null array `false` (RESP3's null: `nil`), arrays tables, a
/// status `{ok=...}`, an error `{err=...}`; in RESP3 a map `{map={...}}`, a set `{set={...}}`, a
/// double `{double=n}`, a boolean itself, a big number `{big_number=s}`, verbatim text
/// `{verbatim_string={format=f, string=s}}`. Returns the value and whether it was an error.
pub fn resp_to_lua(lua: &Lua, resp: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut pos = 0;
    let first = resp.first().copied();
    let value = parse(lua, resp, &mut pos)?;
    Ok((value, first == Some(b'-')))
}

fn line<'a>(resp: &'a [u8], pos: &mut usize) -> mlua::Result<&'a [u8]> {
    let rest = &resp[*pos..];
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| mlua::Error::RuntimeError("malformed reply".into()))?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn number(text: &[u8]) -> mlua::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| mlua::Error::RuntimeError("malformed reply".into()))
}

fn parse(lua: &Lua, resp: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let kind = *resp.get(*pos).ok_or_else(|| mlua::Error::RuntimeError("malformed reply".into()))?;
    *pos += 1;
    let head = line(resp, pos)?;
    Ok(match kind {
        b'+' => tagged(lua, "ok", Value::String(lua.create_string(head)?))?,
        b'-' => tagged(lua, "err", Value::String(lua.create_string(head)?))?,
        b':' => Value::Number(number(head)? as f64),
        b'$' | b'=' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = &resp[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            if kind == b'=' {
                let inner = lua.create_table()?;
                inner.raw_set("format", lua.create_string(&data[..3.min(data.len())])?)?;
                inner.raw_set("string", lua.create_string(data.get(4..).unwrap_or_default())?)?;
                tagged(lua, "verbatim_string", Value::Table(inner))?
            } else {
                Value::String(lua.create_string(data)?)
            }
        }
        b'*' | b'>' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let table = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                table.raw_set(i, parse(lua, resp, pos)?)?;
            }
            Value::Table(table)
        }
        b'%' => {
            let table = lua.create_table()?;
            for _ in 0..number(head)? {
                let k = parse(lua, resp, pos)?;
                let v = parse(lua, resp, pos)?;
                table.raw_set(k, v)?;
            }
            tagged(lua, "map", Value::Table(table))?
        }
        b'~' => {
            let table = lua.create_table()?;
            for _ in 0..number(head)? {
                table.raw_set(parse(lua, resp, pos)?, true)?;
            }
            tagged(lua, "set", Value::Table(table))?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let d = crate::commands::args::parse_float(head).unwrap_or(f64::NAN);
            tagged(lua, "double", Value::Number(d))?
        }
        b'(' => tagged(lua, "big_number", Value::String(lua.create_string(head)?))?,
        _ => return Err(mlua::Error::RuntimeError("malformed reply".into())),
    })
}

/// `{name=value}`.
fn tagged(lua: &Lua, name: &str, value: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, value)?;
    Ok(Value::Table(t))
}

/// A Lua number as Redis turns it into an integer reply: truncated toward zero; what does not fit
/// (and NaN) becomes the smallest integer, as C's conversion does on the machines Redis runs on.
pub fn lua_integer(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if (-LIMIT..LIMIT).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// Writes what a script returned into the client's reply: a string is a bulk string, a number an
/// integer (truncated), `true` the integer 1 (RESP3: a boolean), `false` and `nil` a null (RESP3:
/// `false` a boolean), a table with a string `err` field an error, with `ok` a status, with
/// `double`, `big_number`, `map`, `set` or `verbatim_string` those RESP3 types, any other table an
/// array of its elements up to the first `nil`.
///
/// Tables nested deeper than [`MAX_REPLY_DEPTH`] (a table that contains itself, say) end in
/// Redis's `-ERR reached lua stack limit` where the next level would be, as Redis's own
/// conversion stops when Lua's stack runs out.
///
/// Each error it writes is noted in `errors`, for INFO (see [`ReplyErrors`]).
pub fn lua_to_reply(value: &Value, out: &mut Reply, errors: &mut ReplyErrors) {
    to_reply(value, out, errors, 0)
}

/// The field Redis 7 sets on an error table made from a command's error reply: that reply was
/// counted in INFO errorstats when the command replied, so the script passing it on (raising it
/// with `redis.call`, returning `redis.pcall`'s table) does not count it again. Scripts see it,
/// as in Redis.
pub const COUNTED_FIELD: &str = "ignore_error_stats_update";

/// True if an error table carries [`COUNTED_FIELD`] set (Redis reads any boolean there).
pub fn already_counted(error: &Table) -> bool {
    matches!(error.raw_get::<Value>(COUNTED_FIELD), Ok(Value::Boolean(true)))
}

/// What INFO must learn of the error replies a script's run made. Redis counts an error reply
/// once, where it is made: a command a script called counted its own (INFO errorstats, its
/// `failed_calls` or `rejected_calls`), and the script's command counts those its reply holds
/// that the script made itself (`redis.error_reply`, `error()`, a table `{err=...}`).
#[derive(Debug, Default)]
pub struct ReplyErrors {
    /// Error lines (without the leading `-`) that the reply holds and nobody counted yet.
    pub uncounted: Vec<String>,
    /// Errors the reply holds that a command replied and INFO counted then.
    pub passed_on: u64,
    /// The run failed with an error a command replied, already counted then.
    pub raised_counted: bool,
}

impl ReplyErrors {
    fn note(&mut self, line: &str, counted: bool) {
        if counted {
            self.passed_on += 1;
        } else {
            self.uncounted.push(line.to_string());
        }
    }

    /// The failed calls of the script's command for a reply that is not itself an error, as
    /// Redis 7.0 counts them: one per error passed on (each goes out without counting, and
    /// Redis then counts a failed call instead), and one more if the reply holds errors of the
    /// script's own (Redis sees new errors counted while the command ran). So a reply of
    /// `{redis.error_reply('E x'), redis.pcall('select', 99)}` counts two.
    pub fn failures(&self) -> u64 {
        self.passed_on + u64::from(!self.uncounted.is_empty())
    }
}

/// How deep a script's reply may nest (Redis stops where its Lua stack runs out, some thousands
/// of levels; this bound also keeps the conversion's recursion far from the thread's stack end).
const MAX_REPLY_DEPTH: usize = 1000;

fn to_reply(value: &Value, out: &mut Reply, errors: &mut ReplyErrors, depth: usize) {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Number(n) => out.int(lua_integer(*n)),
        Value::Integer(n) => out.int(*n),
        Value::Boolean(b) if out.resp3() => out.boolean(*b),
        Value::Boolean(true) => out.int(1),
        Value::Table(_) if depth >= MAX_REPLY_DEPTH => {
            const LIMIT: &str = "ERR reached lua stack limit";
            errors.note(LIMIT, false);
            out.error(LIMIT)
        }
        Value::Table(t) => table_to_reply(t, out, errors, depth + 1),
        _ => out.null(),
    }
}

fn table_to_reply(t: &Table, out: &mut Reply, errors: &mut ReplyErrors, depth: usize) {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        let line = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        errors.note(&line, already_counted(t));
        out.error(&line);
        return;
    }
    if let Value::String(s) = field("ok") {
        let text: String = String::from_utf8_lossy(&s.as_bytes())
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        out.simple(&text);
        return;
    }
    // mlua reads an integral Lua number as an Integer, which would lose -0's sign: a number is
    // read again as a double.
    if matches!(field("double"), Value::Number(_) | Value::Integer(_)) {
        return out.double(t.raw_get::<f64>("double").unwrap_or(f64::NAN));
    }
    if let Value::String(s) = field("big_number") {
        if out.resp3() {
            out.raw(b"(");
            out.raw(&s.as_bytes());
            out.raw(b"\r\n");
        } else {
            out.bulk(&s.as_bytes());
        }
        return;
    }
    if let Value::Table(map) = field("map") {
        let pairs: Vec<(Value, Value)> = map.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            to_reply(k, out, errors, depth);
            to_reply(v, out, errors, depth);
        }
        return;
    }
    if let Value::Table(set) = field("set") {
        let members: Vec<Value> = set.pairs::<Value, Value>().filter_map(Result::ok).map(|(k, _)| k).collect();
        out.set(members.len());
        for m in &members {
            to_reply(m, out, errors, depth);
        }
        return;
    }
    if let Value::Table(v) = field("verbatim_string") {
        let text = v.raw_get::<mlua::String>("string").map(|s| s.as_bytes().to_vec()).unwrap_or_default();
        out.verbatim(&text);
        return;
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        to_reply(v, out, errors, depth);
    }
}

/// A Lua number given to `redis.call` as an argument, in Redis 7.0's words: the shortest digits
/// that read back as the same double, in `%g` style (`1e+17`, `1.5e-05`, `0.30000000000000004`).
pub fn number_arg(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{n:e}"); // "1.2345e-5", "1e17"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        return format!("{n}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_arguments_read_as_redis_writes_them() {
        for (n, text) in [
            (1e15, "1000000000000000"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (-0.5, "-0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.2345e-5, "1.2345e-05"),
            (3.0, "3"),
        ] {
            assert_eq!(number_arg(n), text, "{n}");
        }
    }

    #[test]
    fn numbers_as_replies_truncate_like_c() {
        assert_eq!(lua_integer(3.99), 3);
        assert_eq!(lua_integer(-2.9), -2);
        assert_eq!(lua_integer(1e20), i64::MIN);
        assert_eq!(lua_integer(f64::NAN), i64::MIN);
    }
}
