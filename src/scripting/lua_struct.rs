//! The `struct` library Redis embeds (Roberto Ierusalimschy's struct, Redis's
//! `deps/lua/src/lua_struct.c`): `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, offset])`
//! and `struct.size(fmt)`, which turn Lua numbers and strings into binary records and back.
//! Results and error texts are Redis's on x86-64 Linux, read off a real redis-server 7.0.15.
//!
//! A format is read left to right, one option at a time:
//! - `<` little-endian (the default), `>` big-endian, `!n` align to at most `n` bytes (`!` alone:
//!   8, a double's alignment; the default is 1, no padding), a space is ignored;
//! - `b`/`B` signed/unsigned char, `h`/`H` short, `l`/`L` long, `T` size_t, `i`/`I` int, or an
//!   integer of `n` bytes with `in`/`In` (0 to 32; past 8 bytes only the low 8 carry the value);
//! - `f` float, `d` double, `x` one zero byte of padding;
//! - `cn` `n` bytes of a string (`c` is `c1`; packing `c0` takes the whole string, unpacking
//!   `c0` takes as many bytes as the number unpacked just before, which it replaces);
//! - `s` a zero-terminated string.
//!
//! Each item is first padded to its alignment: its own size, capped by the `!` in force (a size
//! that is not a power of two gets the original's arithmetic, whatever that gives; strings and
//! `c` are never padded). The format ends at its first zero byte, as a C string does.
//!
//! Where C leaves a result to the machine (a double outside the integer type's range, a shift by
//! 64 bits or more for the sign of an integer over 8 bytes), this gives what x86-64 gives, which
//! is what Redis returns there.
//!
//! The three functions are Lua C functions, as `redis.call` is, and raise their errors through
//! Lua's own `luaL_argerror` and `luaL_where`: a script then sees exactly Redis's error, with
//! the position of the call, `bad argument #n to 'name'` under the name the caller used, and a
//! string (not an mlua userdata) when it catches it with `pcall`. The formats themselves are
//! read by plain Rust ([`pack`], [`unpack`], [`size`]) that knows nothing of Lua's stack.

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;

use mlua::ffi;
use mlua::{Lua, Table};

/// Sizes of the C types the options name, on x86-64 Linux (LP64), Redis's usual platform.
const SHORT: usize = 2;
const INT: usize = 4;
const LONG: usize = 8;
const SIZE_T: usize = 8;
const FLOAT: usize = 4;
const DOUBLE: usize = 8;

/// The largest integer `i`/`I` take, in bytes.
const MAX_INT_SIZE: usize = 32;

/// The alignment a bare `!` sets: the largest a C type needs there (a double's).
const MAX_ALIGN: usize = 8;

/// Lua 5.1's limit on the stack slots a C function may use (`LUAI_MAXCSTACK`): `unpack` checks
/// it before each option, as the original does with `luaL_checkstack`, so the number of values
/// it can return, and the error past it, are Redis's.
const MAX_C_STACK: usize = 8000;

/// Why a call failed. The texts are the original's; [`StructError::argument`] says which of them
/// blame an argument (`bad argument #n to 'f' (...)`) and which are plain errors.
#[derive(Debug, Clone, PartialEq)]
pub enum StructError {
    /// A number in the format does not fit a C int.
    SizeOverflow,
    /// `in`/`In` with `n` over [`MAX_INT_SIZE`].
    IntTooLarge(usize),
    /// `!n` with `n` not a power of two.
    Alignment(usize),
    /// A character that is no option.
    InvalidOption(u8),
    /// `struct.size` of a format holding `s` or `c0` (named by the option).
    NoFixedSize(&'static str),
    /// An argument of the wrong type. Raised through `luaL_typerror`, which adds the type the
    /// argument has (`number expected, got nil`); [`StructError::message`] alone lacks it.
    WrongType { arg: c_int, expected: &'static CStr },
    /// A string shorter than its `cn`. The original names the argument after it (it has
    /// already moved on to the next one when it checks), and so does this.
    StringTooShort { arg: c_int },
    /// The data ends before the format does.
    DataTooShort,
    /// An offset below 1.
    BadOffset,
    /// Unpacking `c0` with no number just before it.
    NeedsPreviousSize,
    /// Unpacking `s` with no zero byte left in the data.
    UnfinishedString,
    /// More values than a C function may return.
    TooManyResults,
}

impl StructError {
    /// The argument the error blames, or `None` for a plain error.
    fn argument(&self) -> Option<c_int> {
        match self {
            StructError::InvalidOption(_) | StructError::NoFixedSize(_) => Some(1),
            StructError::WrongType { arg, .. } | StructError::StringTooShort { arg } => Some(*arg),
            StructError::DataTooShort => Some(2),
            StructError::BadOffset => Some(3),
            StructError::SizeOverflow
            | StructError::IntTooLarge(_)
            | StructError::Alignment(_)
            | StructError::NeedsPreviousSize
            | StructError::UnfinishedString
            | StructError::TooManyResults => None,
        }
    }

    /// The message, as bytes: an invalid option is quoted as the byte it is.
    fn message(&self) -> Vec<u8> {
        let text = match self {
            StructError::SizeOverflow => "integral size overflow".to_string(),
            StructError::IntTooLarge(n) => format!("integral size {n} is larger than limit of {MAX_INT_SIZE}"),
            StructError::Alignment(n) => format!("alignment {n} is not a power of 2"),
            StructError::InvalidOption(opt) => {
                return [&b"invalid format option '"[..], &[*opt], b"'"].concat();
            }
            StructError::NoFixedSize(opt) => format!("option '{opt}' has no fixed size"),
            StructError::WrongType { expected, .. } => format!("{} expected", expected.to_string_lossy()),
            StructError::StringTooShort { .. } => "string too short".to_string(),
            StructError::DataTooShort => "data string too short".to_string(),
            StructError::BadOffset => "offset must be 1 or greater".to_string(),
            StructError::NeedsPreviousSize => "format 'c0' needs a previous size".to_string(),
            StructError::UnfinishedString => "unfinished string in data".to_string(),
            StructError::TooManyResults => "stack overflow (too many results)".to_string(),
        };
        text.into_bytes()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Endian {
    Little,
    Big,
}

/// A format being read, with the byte order and alignment its options have set so far.
struct Format<'f> {
    rest: &'f [u8],
    endian: Endian,
    align: usize,
}

impl<'f> Format<'f> {
    fn new(fmt: &'f [u8]) -> Format<'f> {
        let end = fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len());
        Format { rest: &fmt[..end], endian: Endian::Little, align: 1 }
    }

    /// The next option and the size of its item (0 for options that are not items), reading
    /// the count that follows `c`, `i` and `I`.
    fn next(&mut self) -> Result<Option<(u8, usize)>, StructError> {
        let Some((&opt, rest)) = self.rest.split_first() else { return Ok(None) };
        self.rest = rest;
        let size = match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => SHORT,
            b'l' | b'L' => LONG,
            b'T' => SIZE_T,
            b'f' => FLOAT,
            b'd' => DOUBLE,
            b'c' => self.count(1)?,
            b'i' | b'I' => {
                let n = self.count(INT)?;
                if n > MAX_INT_SIZE {
                    return Err(StructError::IntTooLarge(n));
                }
                n
            }
            _ => 0,
        };
        Ok(Some((opt, size)))
    }

    /// The decimal count at the front of what is left, or `default` when there is none; a
    /// count must fit a C int.
    fn count(&mut self, default: usize) -> Result<usize, StructError> {
        let digits = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Ok(default);
        }
        let mut n: i32 = 0;
        for &d in &self.rest[..digits] {
            n = n.checked_mul(10).and_then(|n| n.checked_add(i32::from(d - b'0'))).ok_or(StructError::SizeOverflow)?;
        }
        self.rest = &self.rest[digits..];
        Ok(n as usize)
    }

    /// Applies an option that is not an item: byte order, alignment, a space; anything else is
    /// no option at all.
    fn control(&mut self, opt: u8) -> Result<(), StructError> {
        match opt {
            b' ' => {}
            b'>' => self.endian = Endian::Big,
            b'<' => self.endian = Endian::Little,
            b'!' => {
                let n = self.count(MAX_ALIGN)?;
                if !n.is_power_of_two() {
                    return Err(StructError::Alignment(n));
                }
                self.align = n;
            }
            other => return Err(StructError::InvalidOption(other)),
        }
        Ok(())
    }

    /// The padding an item of `size` bytes needs at offset `at`: up to its size, capped by the
    /// alignment in force. For a size that is not a power of two this is the original's mask
    /// arithmetic, kept as it is because it decides where the bytes go.
    fn padding(&self, at: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size - (at & (size - 1))) & (size - 1)
    }

    fn bytes(&self, value: &[u8]) -> Vec<u8> {
        match self.endian {
            Endian::Little => value.to_vec(),
            Endian::Big => value.iter().rev().copied().collect(),
        }
    }
}

/// C's `(long)d` as x86-64 computes it (`cvttsd2si`): toward zero, and `i64::MIN`, the
/// "integer indefinite" value, for NaN and anything out of range.
fn x86_f64_to_i64(d: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-TWO_63..TWO_63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's `(unsigned long)d` as gcc compiles it for x86-64: below 2^63 as `(long)d`, from 2^63 on
/// as `(long)(d - 2^63)` with the top bit flipped (so 2^64 and infinity give 0).
fn x86_f64_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        (x86_f64_to_i64(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        x86_f64_to_i64(d) as u64
    }
}

/// The arguments `pack` reads, fetched one at a time as the format asks for them (so that the
/// first error met is the one reported, and extra arguments are never looked at).
pub trait Arguments<'a> {
    /// A number (a string that reads as one too), or [`StructError::WrongType`].
    fn number(&mut self, arg: c_int) -> Result<f64, StructError>;
    /// A string (a number as Lua writes it too), or [`StructError::WrongType`].
    fn string(&mut self, arg: c_int) -> Result<&'a [u8], StructError>;
}

/// `struct.pack`: the record, its values taken from argument 2 on.
pub fn pack<'a>(fmt: &[u8], args: &mut impl Arguments<'a>) -> Result<Vec<u8>, StructError> {
    let mut format = Format::new(fmt);
    let mut out = Vec::new();
    let mut arg = 2;
    while let Some((opt, size)) = format.next()? {
        let padding = format.padding(out.len(), opt, size);
        out.resize(out.len() + padding, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                // Negative numbers go through the signed type, the others through the unsigned
                // one; either way the low `size` bytes of the 64-bit value, zeros past 8.
                let value = x86_f64_to_u64(args.number(arg)?).to_le_bytes();
                arg += 1;
                let mut item = vec![0; size];
                let n = size.min(8);
                item[..n].copy_from_slice(&value[..n]);
                out.extend(format.bytes(&item));
            }
            b'x' => out.push(0),
            b'f' => {
                let value = args.number(arg)? as f32;
                arg += 1;
                out.extend(format.bytes(&value.to_le_bytes()));
            }
            b'd' => {
                let value = args.number(arg)?;
                arg += 1;
                out.extend(format.bytes(&value.to_le_bytes()));
            }
            b'c' | b's' => {
                let s = args.string(arg)?;
                arg += 1;
                let size = if size == 0 { s.len() } else { size };
                if s.len() < size {
                    return Err(StructError::StringTooShort { arg });
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            other => format.control(other)?,
        }
    }
    Ok(out)
}

/// One value `unpack` returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Unpacked<'d> {
    Number(f64),
    Bytes(&'d [u8]),
}

/// What `unpack` returns: the values, then the offset (from 1) just past the last byte read.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'d> {
    pub values: Vec<Unpacked<'d>>,
    pub next: i64,
}

/// `struct.unpack`: reads `data` from `offset` (counted from 1, as the Lua argument is, and taken
/// as C takes it: a negative one wraps around and ends in "data string too short"). `nargs` is
/// how many arguments the call got, which counts against Lua's stack limit; `to_number` reads a
/// string as Lua does, for `c0` after a `cn` that unpacked digits.
pub fn unpack<'d>(
    fmt: &[u8],
    data: &'d [u8],
    offset: i64,
    nargs: usize,
    to_number: impl Fn(&[u8]) -> Option<f64>,
) -> Result<Record<'d>, StructError> {
    let mut pos = offset as u64 as usize;
    if pos == 0 {
        return Err(StructError::BadOffset);
    }
    pos -= 1;
    let mut format = Format::new(fmt);
    let mut values = Vec::new();
    let fits = |pos: usize, size: usize| size <= data.len() && pos <= data.len() - size;
    while let Some((opt, mut size)) = format.next()? {
        pos = pos.wrapping_add(format.padding(pos, opt, size));
        if !fits(pos, size) {
            return Err(StructError::DataTooShort);
        }
        if nargs + values.len() + 2 > MAX_C_STACK {
            return Err(StructError::TooManyResults);
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let value = read_integer(&data[pos..pos + size], format.endian, opt.is_ascii_lowercase());
                values.push(Unpacked::Number(value));
            }
            b'x' => {}
            b'f' => {
                let bytes = format.bytes(&data[pos..pos + size]);
                let value = f32::from_le_bytes(bytes.try_into().expect("a float is 4 bytes"));
                values.push(Unpacked::Number(f64::from(value)));
            }
            b'd' => {
                let bytes = format.bytes(&data[pos..pos + size]);
                values.push(Unpacked::Number(f64::from_le_bytes(bytes.try_into().expect("a double is 8 bytes"))));
            }
            b'c' => {
                if size == 0 {
                    let previous = match values.pop() {
                        Some(Unpacked::Number(n)) => Some(n),
                        Some(Unpacked::Bytes(s)) => to_number(s),
                        None => None,
                    };
                    size = x86_f64_to_u64(previous.ok_or(StructError::NeedsPreviousSize)?) as usize;
                    if !fits(pos, size) {
                        return Err(StructError::DataTooShort);
                    }
                }
                values.push(Unpacked::Bytes(&data[pos..pos + size]));
            }
            b's' => {
                let rest = &data[pos..];
                let end = rest.iter().position(|&b| b == 0).ok_or(StructError::UnfinishedString)?;
                values.push(Unpacked::Bytes(&rest[..end]));
                size = end + 1;
            }
            other => format.control(other)?,
        }
        pos = pos.wrapping_add(size);
    }
    Ok(Record { values, next: pos.wrapping_add(1) as i64 })
}

/// An integer of `bytes.len()` bytes as a Lua number. Only the low 8 bytes count; a signed
/// one is sign-extended from the bit the original's mask picks, which for more than 8 bytes is
/// bit `(8n - 1) mod 64` (x86-64 takes shift counts modulo 64).
fn read_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    let value = match endian {
        Endian::Big => bytes.iter().fold(0, fold),
        Endian::Little => bytes.iter().rev().fold(0, fold),
    };
    if !signed {
        return value as f64;
    }
    let shift = (bytes.len() as u32 * 8).wrapping_sub(1) & 63;
    let mask = u64::MAX << shift;
    let value = if value & mask != 0 { value | mask } else { value };
    value as i64 as f64
}

/// `struct.size`: the bytes a record of this format takes. Unknown letters and digits count
/// nothing here (the original only checks the other characters), while `pack` and `unpack`
/// refuse them.
pub fn size(fmt: &[u8]) -> Result<usize, StructError> {
    let mut format = Format::new(fmt);
    let mut pos: usize = 0;
    while let Some((opt, size)) = format.next()? {
        pos = pos.wrapping_add(format.padding(pos, opt, size));
        if opt == b's' {
            return Err(StructError::NoFixedSize("s"));
        }
        if opt == b'c' && size == 0 {
            return Err(StructError::NoFixedSize("c0"));
        }
        if !opt.is_ascii_alphanumeric() {
            format.control(opt)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos)
}

// The Lua side. Each function reads its arguments, calls the Rust above, and either pushes the
// results or raises the error. Nothing Rust-owned is alive when `lua_error` unwinds the frame
// (results are dropped before, the message is on Lua's stack by then): `lua_error` jumps over
// Rust frames without running their destructors.

/// The `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    // SAFETY: the three are Lua C functions that follow the C API's stack discipline and hold
    // nothing Rust-owned when they raise an error.
    unsafe {
        table.raw_set("pack", lua.create_c_function(lua_pack)?)?;
        table.raw_set("unpack", lua.create_c_function(lua_unpack)?)?;
        table.raw_set("size", lua.create_c_function(lua_size)?)?;
    }
    Ok(table)
}

unsafe extern "C-unwind" fn lua_pack(state: *mut ffi::lua_State) -> c_int {
    let fmt = match check_string(state, 1) {
        Ok(fmt) => fmt,
        Err(e) => return raise(state, e),
    };
    // The original pushes a nil just above the arguments before it reads them (and its buffer
    // above that): a missing argument is "got nil", not "got no value".
    ffi::lua_pushnil(state);
    let e = match pack(fmt, &mut StackArguments { state, data: PhantomData }) {
        Ok(bytes) => {
            ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
            return 1;
        }
        Err(e) => e,
    };
    raise(state, e)
}

unsafe extern "C-unwind" fn lua_unpack(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state) as usize;
    let record = (|| {
        let fmt = check_string(state, 1)?;
        let data = check_string(state, 2)?;
        let offset = if ffi::lua_isnoneornil(state, 3) != 0 { 1 } else { x86_f64_to_i64(check_number(state, 3)?) };
        unpack(fmt, data, offset, nargs, |s| string_to_number(state, s))
    })();
    let e = match record {
        Ok(record) => {
            let count = record.values.len() + 1;
            if ffi::lua_checkstack(state, count as c_int) != 0 {
                for value in &record.values {
                    match value {
                        Unpacked::Number(n) => ffi::lua_pushnumber(state, *n),
                        Unpacked::Bytes(s) => {
                            ffi::lua_pushlstring(state, s.as_ptr().cast(), s.len());
                        }
                    }
                }
                ffi::lua_pushinteger(state, record.next as ffi::lua_Integer);
                return count as c_int;
            }
            StructError::TooManyResults
        }
        Err(e) => e,
    };
    raise(state, e)
}

unsafe extern "C-unwind" fn lua_size(state: *mut ffi::lua_State) -> c_int {
    match check_string(state, 1).and_then(size) {
        Ok(n) => {
            ffi::lua_pushinteger(state, n as ffi::lua_Integer);
            1
        }
        // Nothing of the result needs dropping: a size or an error without heap data.
        Err(e) => raise(state, e),
    }
}

/// `pack`'s arguments, read off the stack of the running call (strings borrowed for as long as
/// the call lasts: they stay on the stack).
struct StackArguments<'a> {
    state: *mut ffi::lua_State,
    data: PhantomData<&'a [u8]>,
}

impl<'a> Arguments<'a> for StackArguments<'a> {
    fn number(&mut self, arg: c_int) -> Result<f64, StructError> {
        // SAFETY: `state` is the running call's; reading past the top gives none, as in C.
        unsafe { check_number(self.state, arg) }
    }

    fn string(&mut self, arg: c_int) -> Result<&'a [u8], StructError> {
        // SAFETY: as above; the string stays on the stack until the call returns.
        unsafe { check_string(self.state, arg) }
    }
}

/// `luaL_checknumber` without the raise.
unsafe fn check_number(state: *mut ffi::lua_State, arg: c_int) -> Result<f64, StructError> {
    let n = ffi::lua_tonumber(state, arg);
    if n == 0.0 && ffi::lua_isnumber(state, arg) == 0 {
        return Err(StructError::WrongType { arg, expected: c"number" });
    }
    Ok(n)
}

/// `luaL_checklstring` without the raise (a number argument becomes a string in its slot).
unsafe fn check_string<'a>(state: *mut ffi::lua_State, arg: c_int) -> Result<&'a [u8], StructError> {
    let mut len = 0;
    let p = ffi::lua_tolstring(state, arg, &mut len);
    if p.is_null() {
        return Err(StructError::WrongType { arg, expected: c"string" });
    }
    Ok(std::slice::from_raw_parts(p.cast(), len))
}

/// A string read as a number the way Lua reads one (`lua_isnumber`), through a slot of its own.
unsafe fn string_to_number(state: *mut ffi::lua_State, s: &[u8]) -> Option<f64> {
    ffi::lua_pushlstring(state, s.as_ptr().cast(), s.len());
    let n = (ffi::lua_isnumber(state, -1) != 0).then(|| ffi::lua_tonumber(state, -1));
    ffi::lua_settop(state, -2);
    n
}

/// Raises `e` as Lua's own functions would: an argument error through `luaL_argerror` (which
/// names the function as its caller called it), a type error through `luaL_typerror`, any other
/// prefixed with the caller's position, as `luaL_error` does.
unsafe fn raise(state: *mut ffi::lua_State, e: StructError) -> c_int {
    if let StructError::WrongType { arg, expected } = e {
        return ffi::luaL_typerror(state, arg, expected.as_ptr());
    }
    let message = e.message();
    ffi::lua_pushlstring(state, message.as_ptr().cast(), message.len());
    drop(message);
    match e.argument() {
        Some(arg) => ffi::luaL_argerror(state, arg, ffi::lua_tolstring(state, -1, std::ptr::null_mut())),
        None => {
            ffi::luaL_where(state, 1);
            ffi::lua_insert(state, -2);
            ffi::lua_concat(state, 2);
            ffi::lua_error(state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments given as Rust values: numbers, or strings.
    struct Given<'a>(Vec<Result<f64, &'a [u8]>>);

    impl<'a> Arguments<'a> for Given<'a> {
        fn number(&mut self, arg: c_int) -> Result<f64, StructError> {
            match self.0.get(arg as usize - 2) {
                Some(Ok(n)) => Ok(*n),
                _ => Err(StructError::WrongType { arg, expected: c"number" }),
            }
        }

        fn string(&mut self, arg: c_int) -> Result<&'a [u8], StructError> {
            match self.0.get(arg as usize - 2) {
                Some(Err(s)) => Ok(s),
                _ => Err(StructError::WrongType { arg, expected: c"string" }),
            }
        }
    }

    fn numbers(fmt: &str, values: &[f64]) -> Result<Vec<u8>, StructError> {
        pack(fmt.as_bytes(), &mut Given(values.iter().map(|&n| Ok(n)).collect()))
    }

    #[test]
    fn integers_take_the_low_bytes_in_either_order() {
        assert_eq!(numbers("<i>i", &[1.0, 2.0]).unwrap(), [1, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(numbers("h", &[-2.0]).unwrap(), [0xfe, 0xff]);
        assert_eq!(numbers("B", &[256.0]).unwrap(), [0]);
        assert_eq!(numbers("b", &[-2.7]).unwrap(), [0xfe]);
        let mut sixteen = vec![0xff; 8];
        sixteen.extend([0; 8]);
        assert_eq!(numbers("i16", &[-1.0]).unwrap(), sixteen);
    }

    #[test]
    fn out_of_range_doubles_convert_as_on_x86_64() {
        assert_eq!(x86_f64_to_u64(18_446_744_073_709_551_616.0), 0);
        assert_eq!(x86_f64_to_u64(f64::INFINITY), 0);
        assert_eq!(x86_f64_to_u64(f64::NAN), 1 << 63);
        assert_eq!(x86_f64_to_u64(9_223_372_036_854_777_856.0), (1 << 63) | 2048);
        assert_eq!(x86_f64_to_i64(-1e300), i64::MIN);
        assert_eq!(x86_f64_to_u64(-0.5), 0);
    }

    #[test]
    fn alignment_pads_up_to_the_cap() {
        assert_eq!(numbers("!4 b i", &[1.0, 2.0]).unwrap(), [1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(size(b"!bd"), Ok(16));
        assert_eq!(size(b"bd"), Ok(9));
        // A size that is not a power of two: the mask arithmetic of the original.
        assert_eq!(size(b"!bi3"), Ok(6));
        assert_eq!(size(b"!0"), Err(StructError::Alignment(0)));
    }

    #[test]
    fn signed_integers_over_eight_bytes_extend_from_the_masked_bit() {
        assert_eq!(read_integer(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80], Endian::Little, true), -1.0);
        assert_eq!(read_integer(&[1, 0, 0, 0, 0, 0, 0, 0, 0xff], Endian::Little, true), 1.0);
        assert_eq!(read_integer(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0xff], Endian::Big, true), -1.0);
        assert_eq!(read_integer(&[0x80, 0, 0], Endian::Big, true), -8_388_608.0);
    }

    #[test]
    fn c0_takes_its_length_from_the_number_before_it() {
        let record = unpack(b"bc0", b"\x03abcd", 1, 2, |_| None).unwrap();
        assert_eq!(record, Record { values: vec![Unpacked::Bytes(b"abc")], next: 5 });
        assert_eq!(unpack(b"c0", b"abc", 1, 2, |_| None), Err(StructError::NeedsPreviousSize));
    }

    #[test]
    fn unpack_stops_where_lua_s_stack_would() {
        let data = [b'a'; 8000];
        assert_eq!(unpack("b".repeat(7997).as_bytes(), &data, 1, 2, |_| None).unwrap().values.len(), 7997);
        assert_eq!(unpack("b".repeat(7998).as_bytes(), &data, 1, 2, |_| None), Err(StructError::TooManyResults));
    }

    #[test]
    fn the_format_ends_at_a_zero_byte() {
        assert_eq!(numbers("b\0b", &[1.0, 2.0]).unwrap(), [1]);
        assert_eq!(size(b"i\0i"), Ok(4));
    }
}
