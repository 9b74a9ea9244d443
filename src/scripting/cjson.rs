//! The `cjson` library Redis embeds (lua-cjson 2.1.0), in Rust: `cjson.encode`, `cjson.decode`,
//! `cjson.null` and the settings functions, with lua-cjson's output and error texts (read off a
//! real redis-server 7.0.15).
//!
//! Encoding: a table whose keys are all positive integers is an array (holes become `null`;
//! one more than twice as sparse as it is long, past index 10, is refused), any other an object
//! (string and number keys only); an empty table is `{}`; numbers are written `%.14g`; `/` is
//! escaped. Decoding gives arrays and objects as tables and `null` as `cjson.null` (a light
//! userdata), and accepts what lua-cjson accepts (hex, `Infinity`, `NaN`).
//!
//! The settings live with the Lua state (each worker has its own, as Redis has one).

use std::cell::Cell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// What `encode_*`/`decode_*` set.
#[derive(Clone, Copy)]
struct Settings {
    encode_max_depth: u32,
    decode_max_depth: u32,
    /// 0: refuse NaN and Inf, 1: write them (`nan`, `inf`), 2: write `null`.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    number_precision: u8,
    keep_buffer: bool,
    sparse_convert: bool,
    sparse_ratio: u32,
    sparse_safe: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            number_precision: 14,
            keep_buffer: true,
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
        }
    }
}

type Shared = Rc<Cell<Settings>>;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Where the caller is, as `luaL_error` prefixes its messages (`user_script:1: `).
pub(super) fn caller_position(lua: &Lua) -> String {
    match lua.inspect_stack(1) {
        Some(frame) if frame.curr_line() > 0 => {
            let source = frame.source();
            format!("{}:{}: ", source.short_src.as_deref().unwrap_or("?"), frame.curr_line())
        }
        _ => String::new(),
    }
}

fn error(lua: &Lua, text: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{text}", caller_position(lua)))
}

/// `%.<precision>g`, as lua-cjson writes numbers.
fn format_g(n: f64, precision: u8) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %g of a double at precision <= 14 and snprintf
    // never writes past the size given.
    let len =
        unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.*g".as_ptr(), precision as libc::c_int, n) };
    String::from_utf8_lossy(&buf[..(len.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode_number(lua: &Lua, out: &mut Vec<u8>, n: f64, s: &Settings) -> mlua::Result<()> {
    if !n.is_finite() {
        match s.encode_invalid_numbers {
            0 => return Err(error(lua, "Cannot serialise number: must not be NaN or Inf")),
            2 => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
    }
    out.extend_from_slice(format_g(n, s.number_precision).as_bytes());
    Ok(())
}

/// The array length of `t` if it is an array (lua-cjson's `lua_array_length`), or `None`.
fn array_length(lua: &Lua, t: &Table, s: &Settings) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let index = match k {
            Value::Integer(i) if i >= 1 => i as f64,
            Value::Number(n) if n >= 1.0 && n.floor() == n => n,
            _ => return Ok(None),
        };
        max = max.max(index as usize);
        items += 1;
    }
    if s.sparse_ratio > 0 && max > items * s.sparse_ratio as usize && max > s.sparse_safe as usize {
        if !s.sparse_convert {
            return Err(error(lua, "Cannot serialise table: excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn encode_value(lua: &Lua, out: &mut Vec<u8>, v: &Value, s: &Settings, depth: u32) -> mlua::Result<()> {
    match v {
        Value::String(text) => encode_string(out, &text.as_bytes()),
        Value::Number(n) => encode_number(lua, out, *n, s)?,
        Value::Integer(i) => encode_number(lua, out, *i as f64, s)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > s.encode_max_depth {
                return Err(error(lua, format!("Cannot serialise, excessive nesting ({depth})")));
            }
            match array_length(lua, t, s)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(lua, out, &t.raw_get::<Value>(i)?, s, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, item) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(key) => encode_string(out, &key.as_bytes()),
                            Value::Integer(i) => {
                                out.push(b'"');
                                encode_number(lua, out, *i as f64, s)?;
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                encode_number(lua, out, *n, s)?;
                                out.push(b'"');
                            }
                            other => {
                                return Err(error(
                                    lua,
                                    format!(
                                        "Cannot serialise {}: table key must be a number or string",
                                        other.type_name()
                                    ),
                                ))
                            }
                        }
                        out.push(b':');
                        encode_value(lua, out, &item, s, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            let name = match other {
                Value::LightUserData(_) | Value::UserData(_) => "userdata",
                v => v.type_name(),
            };
            return Err(error(lua, format!("Cannot serialise {name}: type not supported")));
        }
    }
    Ok(())
}

/// A token of lua-cjson's lexer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    fn name(self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(message) => message,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    /// The text, NUL-terminated (lua-cjson reads it as a C string: a NUL ends it).
    data: Vec<u8>,
    pos: usize,
    depth: u32,
    settings: Settings,
    /// The last string token's bytes.
    string: Vec<u8>,
}

impl Parser<'_> {
    /// The next token and where it starts (0-based).
    fn next(&mut self) -> (Token, usize) {
        while matches!(self.data[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let c = self.data[start];
        let simple = match c {
            0 => Some(Token::End),
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(t) = simple {
            if t != Token::End {
                self.pos += 1;
            }
            return (t, start);
        }
        if c == b'"' {
            return self.string_token(start);
        }
        let rest = &self.data[start..];
        for (word, token) in
            [(&b"true"[..], Token::Boolean(true)), (b"false", Token::Boolean(false)), (b"null", Token::Null)]
        {
            if rest.starts_with(word) {
                self.pos += word.len();
                return (token, start);
            }
        }
        let invalid_start = self.settings.decode_invalid_numbers
            && (rest.len() >= 3 && (rest[..3].eq_ignore_ascii_case(b"inf") || rest[..3].eq_ignore_ascii_case(b"nan")));
        if c == b'-' || c.is_ascii_digit() || invalid_start {
            let mut end: *mut libc::c_char = std::ptr::null_mut();
            // SAFETY: `data` is NUL-terminated, so strtod stops inside it.
            let n = unsafe { libc::strtod(rest.as_ptr().cast(), &mut end) };
            let used = end as usize - rest.as_ptr() as usize;
            let text = &rest[..used];
            let special = text.iter().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'));
            if used == 0 || (special && !self.settings.decode_invalid_numbers) {
                return (Token::Error("invalid number"), start);
            }
            self.pos += used;
            return (Token::Number(n), start);
        }
        (Token::Error("invalid token"), start)
    }

    fn string_token(&mut self, start: usize) -> (Token, usize) {
        self.string.clear();
        self.pos += 1;
        loop {
            match self.data[self.pos] {
                0 => return (Token::Error("unexpected end of string"), self.pos),
                b'"' => {
                    self.pos += 1;
                    return (Token::Str, start);
                }
                b'\\' => {
                    let at = self.pos;
                    let escaped = match self.data[self.pos + 1] {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape() {
                            Some(()) => continue,
                            None => return (Token::Error("invalid unicode escape code"), at),
                        },
                        _ => return (Token::Error("invalid escape code"), at),
                    };
                    self.string.push(escaped);
                    self.pos += 2;
                }
                b => {
                    self.string.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.data.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    /// `\uXXXX` (a surrogate pair as two), written as UTF-8; `pos` moves past it.
    fn unicode_escape(&mut self) -> Option<()> {
        let mut code = self.hex4(self.pos + 2)?;
        let mut used = 6;
        if (0xd800..0xdc00).contains(&code) {
            if self.data.get(self.pos + 6..self.pos + 8) != Some(b"\\u") {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if !(0xdc00..0xe000).contains(&low) {
                return None;
            }
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
            used = 12;
        } else if (0xdc00..0xe000).contains(&code) {
            return None;
        }
        let c = char::from_u32(code)?;
        let mut buf = [0u8; 4];
        self.string.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.pos += used;
        Some(())
    }

    fn expected(&self, what: &str, token: (Token, usize)) -> mlua::Error {
        error(self.lua, format!("Expected {what} but found {} at character {}", token.0.name(), token.1 + 1))
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > self.settings.decode_max_depth {
            return Err(error(
                self.lua,
                format!("Found too many nested data structures ({}) at character {}", self.depth, self.pos),
            ));
        }
        Ok(())
    }

    fn value(&mut self, token: (Token, usize)) -> mlua::Result<Value> {
        Ok(match token.0 {
            Token::Str => Value::String(self.lua.create_string(&self.string)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null => null(),
            Token::ObjBegin => Value::Table(self.object()?),
            Token::ArrBegin => Value::Table(self.array()?),
            _ => return Err(self.expected("value", token)),
        })
    }

    fn object(&mut self) -> mlua::Result<Table> {
        self.descend()?;
        let t = self.lua.create_table()?;
        let mut token = self.next();
        if token.0 == Token::ObjEnd {
            self.depth -= 1;
            return Ok(t);
        }
        loop {
            if token.0 != Token::Str {
                return Err(self.expected("object key string", token));
            }
            let key = self.lua.create_string(&self.string)?;
            token = self.next();
            if token.0 != Token::Colon {
                return Err(self.expected("colon", token));
            }
            token = self.next();
            let v = self.value(token)?;
            t.raw_set(key, v)?;
            token = self.next();
            if token.0 == Token::ObjEnd {
                break;
            }
            if token.0 != Token::Comma {
                return Err(self.expected("comma or object end", token));
            }
            token = self.next();
        }
        self.depth -= 1;
        Ok(t)
    }

    fn array(&mut self) -> mlua::Result<Table> {
        self.descend()?;
        let t = self.lua.create_table()?;
        let mut token = self.next();
        if token.0 == Token::ArrEnd {
            self.depth -= 1;
            return Ok(t);
        }
        let mut i = 1;
        loop {
            let v = self.value(token)?;
            t.raw_set(i, v)?;
            i += 1;
            token = self.next();
            if token.0 == Token::ArrEnd {
                break;
            }
            if token.0 != Token::Comma {
                return Err(self.expected("comma or array end", token));
            }
            token = self.next();
        }
        self.depth -= 1;
        Ok(t)
    }
}

fn decode(lua: &Lua, text: &[u8], settings: Settings) -> mlua::Result<Value> {
    let mut data = text.split(|&b| b == 0).next().unwrap_or_default().to_vec();
    data.push(0);
    let mut p = Parser { lua, data, pos: 0, depth: 0, settings, string: Vec::new() };
    let first = p.next();
    let v = p.value(first)?;
    let last = p.next();
    if last.0 != Token::End {
        return Err(p.expected("the end", last));
    }
    Ok(v)
}

/// The argument of a setting function as an integer in `range`, or lua-cjson's error.
fn int_setting(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    range: std::ops::RangeInclusive<i64>,
) -> mlua::Result<Option<i64>> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Integer(n)) if range.contains(n) => Ok(Some(*n)),
        Some(Value::Number(n)) if n.floor() == *n && range.contains(&(*n as i64)) => Ok(Some(*n as i64)),
        _ => Err(error(
            lua,
            format!("bad argument #{} to '?' (expected integer between {} and {})", i + 1, range.start(), range.end()),
        )),
    }
}

fn bool_setting(args: &MultiValue, i: usize) -> Option<u8> {
    match args.get(i) {
        Some(Value::Boolean(b)) => Some(*b as u8),
        Some(Value::String(s)) if &*s.as_bytes() == b"on" => Some(1),
        Some(Value::String(s)) if &*s.as_bytes() == b"off" => Some(0),
        Some(Value::String(s)) if &*s.as_bytes() == b"null" => Some(2),
        _ => None,
    }
}

/// The `cjson` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let settings: Shared = Rc::new(Cell::new(Settings::default()));
    let cjson = lua.create_table()?;
    let s = settings.clone();
    cjson.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(error(lua, "bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let mut out = Vec::new();
            encode_value(lua, &mut out, &args[0], &s.get(), 0)?;
            lua.create_string(out)
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| match args.front() {
            Some(Value::String(text)) if args.len() == 1 => decode(lua, &text.as_bytes(), s.get()),
            Some(Value::Number(n)) if args.len() == 1 => decode(lua, format_g(*n, 14).as_bytes(), s.get()),
            Some(Value::Integer(n)) if args.len() == 1 => decode(lua, n.to_string().as_bytes(), s.get()),
            _ => Err(error(lua, "bad argument #1 to 'decode' (expected 1 argument)")),
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "encode_max_depth",
        lua.create_function(move |lua, args: MultiValue| {
            let mut v = s.get();
            if let Some(n) = int_setting(lua, &args, 0, 1..=i32::MAX as i64)? {
                v.encode_max_depth = n as u32;
                s.set(v);
            }
            Ok(v.encode_max_depth)
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "decode_max_depth",
        lua.create_function(move |lua, args: MultiValue| {
            let mut v = s.get();
            if let Some(n) = int_setting(lua, &args, 0, 1..=i32::MAX as i64)? {
                v.decode_max_depth = n as u32;
                s.set(v);
            }
            Ok(v.decode_max_depth)
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "encode_number_precision",
        lua.create_function(move |lua, args: MultiValue| {
            let mut v = s.get();
            if let Some(n) = int_setting(lua, &args, 0, 1..=14)? {
                v.number_precision = n as u8;
                s.set(v);
            }
            Ok(v.number_precision)
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "encode_keep_buffer",
        lua.create_function(move |_, args: MultiValue| {
            let mut v = s.get();
            if let Some(b) = bool_setting(&args, 0) {
                v.keep_buffer = b == 1;
                s.set(v);
            }
            Ok(v.keep_buffer)
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            let mut v = s.get();
            if let Some(b) = bool_setting(&args, 0) {
                v.encode_invalid_numbers = b;
                s.set(v);
            }
            Ok(match v.encode_invalid_numbers {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    let s = settings.clone();
    cjson.raw_set(
        "decode_invalid_numbers",
        lua.create_function(move |_, args: MultiValue| {
            let mut v = s.get();
            if let Some(b) = bool_setting(&args, 0) {
                v.decode_invalid_numbers = b == 1;
                s.set(v);
            }
            Ok(v.decode_invalid_numbers)
        })?,
    )?;
    let s = settings;
    cjson.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let mut v = s.get();
            if let Some(b) = bool_setting(&args, 0) {
                v.sparse_convert = b == 1;
            }
            if let Some(n) = int_setting(lua, &args, 1, 0..=i32::MAX as i64)? {
                v.sparse_ratio = n as u32;
            }
            if let Some(n) = int_setting(lua, &args, 2, 0..=i32::MAX as i64)? {
                v.sparse_safe = n as u32;
            }
            s.set(v);
            Ok((v.sparse_convert, v.sparse_ratio, v.sparse_safe))
        })?,
    )?;
    cjson.raw_set("null", null())?;
    cjson.raw_set("_NAME", "cjson")?;
    cjson.raw_set("_VERSION", "2.1.0")?;
    Ok(cjson)
}

#[cfg(test)]
mod tests {
    use super::format_g;

    #[test]
    fn numbers_are_written_as_lua_cjson_writes_them() {
        assert_eq!(format_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(f64::NAN, 14), "nan");
        assert_eq!(format_g(f64::NEG_INFINITY, 14), "-inf");
    }
}
