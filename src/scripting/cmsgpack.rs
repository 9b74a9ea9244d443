//! The `cmsgpack` library Redis embeds (lua-cmsgpack 0.4.0), in Rust: `pack`, `unpack`,
//! `unpack_one`, `unpack_limit`, with its encodings: integral numbers as the smallest integer
//! type, others as float32 when exact, else float64; strings as str8/16/32; a table whose keys are
//! exactly 1..n as an array, any other as a map; tables nested past 16 levels, and what msgpack
//! cannot hold (functions, userdata), as nil.

use mlua::{Lua, MultiValue, Table, Value};

use super::cjson::caller_position;

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`.
const MAX_NESTING: u32 = 16;

fn error(lua: &Lua, text: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{text}", caller_position(lua)))
}

fn pack_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    // IS_INT64_EQUIVALENT: the double survives a round trip through int64.
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) && (n as i64) as f64 == n {
        pack_int(out, n as i64);
    } else if (n as f32) as f64 == n || n.is_nan() && (n as f32).is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, codes: [u8; 3], has8: bool) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if has8 && len <= 0xff {
        out.extend_from_slice(&[codes[0], len as u8]);
    } else if len <= 0xffff {
        out.push(codes[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(codes[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// lua-cmsgpack's `table_is_an_array`: every key a positive integer (numeric strings count, as
/// `lua_isnumber` counts them) and as many keys as the largest.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut max, mut count) = (0f64, 0f64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
                Some(n) => n,
                None => return Ok(false),
            },
            _ => return Ok(false),
        };
        if n <= 0.0 || n.floor() != n {
            return Ok(false);
        }
        max = f64::max(max, n);
        count += 1.0;
    }
    Ok(max == count)
}

fn pack_value(out: &mut Vec<u8>, v: &Value, level: u32) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_number(out, *i as f64),
        Value::Number(n) => pack_number(out, *n),
        Value::String(s) => {
            let bytes = s.as_bytes();
            pack_len(out, bytes.len(), 0xa0, 31, [0xd9, 0xda, 0xdb], true);
            out.extend_from_slice(&bytes);
        }
        Value::Table(_) if level == MAX_NESTING => out.push(0xc0),
        Value::Table(t) => {
            if is_array(t)? {
                let len = t.raw_len();
                pack_len(out, len, 0x90, 15, [0, 0xdc, 0xdd], false);
                for i in 1..=len {
                    pack_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            } else {
                let pairs: Vec<(Value, Value)> = t.clone().pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                pack_len(out, pairs.len(), 0x80, 15, [0, 0xde, 0xdf], false);
                for (k, item) in &pairs {
                    pack_value(out, k, level + 1)?;
                    pack_value(out, item, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Why decoding stopped.
enum Stop {
    /// The input ends inside a value.
    Eof,
    /// A type byte msgpack does not have.
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Stop {
        Stop::Lua(e)
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Stop> {
        if self.data.len() - self.pos < n {
            return Err(Stop::Eof);
        }
        self.pos += n;
        Ok(&self.data[self.pos - n..self.pos])
    }

    fn be(&mut self, n: usize) -> Result<u64, Stop> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> Result<Value, Stop> {
        let b = self.take(1)?[0];
        Ok(match b {
            0x00..=0x7f => Value::Number(b as f64),
            0xe0..=0xff => Value::Number(b as i8 as f64),
            0xa0..=0xbf => self.string(lua, (b & 0x1f) as usize)?,
            0x90..=0x9f => self.array(lua, (b & 0x0f) as usize)?,
            0x80..=0x8f => self.map(lua, (b & 0x0f) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xca => Value::Number(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(self.be(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.be(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.be(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xd9 | 0xc4 => {
                let n = self.be(1)? as usize;
                self.string(lua, n)?
            }
            0xda | 0xc5 => {
                let n = self.be(2)? as usize;
                self.string(lua, n)?
            }
            0xdb | 0xc6 => {
                let n = self.be(4)? as usize;
                self.string(lua, n)?
            }
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(lua, n)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(lua, n)?
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(lua, n)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(lua, n)?
            }
            _ => return Err(Stop::BadFormat),
        })
    }

    fn string(&mut self, lua: &Lua, n: usize) -> Result<Value, Stop> {
        let bytes = self.take(n)?;
        Ok(Value::String(lua.create_string(bytes)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> Result<Value, Stop> {
        let t = lua.create_table_with_capacity(n.min(1 << 16), 0)?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> Result<Value, Stop> {
        let t = lua.create_table_with_capacity(0, n.min(1 << 16))?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// lua-cmsgpack's `mp_unpack_full`: up to `limit` values from `offset` (0 and 0: every value,
/// without the offset).
fn unpack(lua: &Lua, data: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(error(
            lua,
            format!("Invalid request to unpack with offset of {offset} and limit of {}.", data.len()),
        ));
    }
    if offset as usize > data.len() {
        return Err(error(lua, format!("Start offset {offset} greater than input length {}.", data.len())));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let mut cursor = Cursor { data, pos: offset as usize };
    let mut values = MultiValue::new();
    let mut count = 0;
    while cursor.pos < data.len() && count < limit {
        match cursor.value(lua) {
            Ok(v) => values.push_back(v),
            Err(Stop::Eof) => return Err(error(lua, "Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(error(lua, "Bad data format in input.")),
            Err(Stop::Lua(e)) => return Err(e),
        }
        count += 1;
    }
    if !decode_all {
        let next = if cursor.pos == data.len() { -1 } else { cursor.pos as i64 };
        values.push_front(Value::Number(next as f64));
    }
    Ok(values)
}

fn int_arg(lua: &Lua, args: &MultiValue, i: usize, default: Option<i64>) -> mlua::Result<i64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n),
        Some(Value::Number(n)) => Ok(*n as i64),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(|n| n as i64)
            .ok_or_else(|| error(lua, format!("bad argument #{} (number expected, got string)", i + 1))),
        None | Some(Value::Nil) if default.is_some() => Ok(default.unwrap_or(0)),
        other => Err(error(
            lua,
            format!("bad argument #{} (number expected, got {})", i + 1, other.map_or("no value", |v| v.type_name())),
        )),
    }
}

fn bytes_arg(lua: &Lua, args: &MultiValue) -> mlua::Result<Vec<u8>> {
    match args.front() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::convert::number_arg(*n).into_bytes()),
        other => Err(error(
            lua,
            format!("bad argument #1 (string expected, got {})", other.map_or("no value", |v| v.type_name())),
        )),
    }
}

/// The `cmsgpack` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(error(lua, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack_value(&mut out, v, 0)?;
            }
            lua.create_string(out)
        })?,
    )?;
    t.raw_set("unpack", lua.create_function(|lua, args: MultiValue| unpack(lua, &bytes_arg(lua, &args)?, 0, 0))?)?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = int_arg(lua, &args, 1, Some(0))?;
            unpack(lua, &bytes_arg(lua, &args)?, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = int_arg(lua, &args, 1, None)?;
            let offset = int_arg(lua, &args, 2, Some(0))?;
            unpack(lua, &bytes_arg(lua, &args)?, limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_pack_as_lua_cmsgpack_packs_them() {
        let hex = |n: f64| {
            let mut out = Vec::new();
            pack_number(&mut out, n);
            out.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        assert_eq!(hex(0.1), "cb3fb999999999999a");
        assert_eq!(hex(-1099511627776.0), "d3ffffff0000000000");
        assert_eq!(hex(1.5), "ca3fc00000");
        assert_eq!(hex(-1.0), "ff");
        assert_eq!(hex(200.0), "ccc8");
    }
}
