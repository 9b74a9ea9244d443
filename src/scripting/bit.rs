//! The `bit` library Redis embeds (LuaBitOp 1.0.2): bitwise operations on 32-bit integers.
//!
//! Every argument is first normalized as LuaBitOp normalizes it (`bit.tobit`): the number rounded
//! to an integer and taken modulo 2^32, as a signed 32-bit value; every result is such a value.

use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's normalization: adding 2^52 + 2^51 leaves the integer, rounded, in the low 32 bits
/// of the double's representation.
fn tobit(n: f64) -> i32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn arg(args: &MultiValue, i: usize, name: &str) -> mlua::Result<i32> {
    match args.get(i) {
        Some(Value::Number(n)) => Ok(tobit(*n)),
        Some(Value::Integer(n)) => Ok(tobit(*n as f64)),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(tobit)
            .ok_or_else(|| bad_arg(i, name, "number expected, got string")),
        other => {
            let got = other.map(|v| v.type_name()).unwrap_or("no value");
            Err(bad_arg(i, name, &format!("number expected, got {got}")))
        }
    }
}

fn bad_arg(i: usize, name: &str, what: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("bad argument #{} to '{name}' ({what})", i + 1))
}

/// Folds every argument with `op` (band, bor, bxor take one or more).
fn fold(lua: &Lua, name: &'static str, op: fn(i32, i32) -> i32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, args: MultiValue| {
        let mut acc = arg(&args, 0, name)?;
        for i in 1..args.len() {
            acc = op(acc, arg(&args, i, name)?);
        }
        Ok(acc as f64)
    })
}

/// A shift or rotation by the second argument's low five bits.
fn shift(lua: &Lua, name: &'static str, op: fn(i32, u32) -> i32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, args: MultiValue| {
        let x = arg(&args, 0, name)?;
        let n = arg(&args, 1, name)? as u32 & 31;
        Ok(op(x, n) as f64)
    })
}

/// The `bit` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.raw_set("tobit", lua.create_function(|_, args: MultiValue| Ok(arg(&args, 0, "tobit")? as f64))?)?;
    bit.raw_set("bnot", lua.create_function(|_, args: MultiValue| Ok(!arg(&args, 0, "bnot")? as f64))?)?;
    bit.raw_set("bswap", lua.create_function(|_, args: MultiValue| Ok(arg(&args, 0, "bswap")?.swap_bytes() as f64))?)?;
    bit.raw_set("band", fold(lua, "band", |a, b| a & b)?)?;
    bit.raw_set("bor", fold(lua, "bor", |a, b| a | b)?)?;
    bit.raw_set("bxor", fold(lua, "bxor", |a, b| a ^ b)?)?;
    bit.raw_set("lshift", shift(lua, "lshift", |x, n| ((x as u32) << n) as i32)?)?;
    bit.raw_set("rshift", shift(lua, "rshift", |x, n| ((x as u32) >> n) as i32)?)?;
    bit.raw_set("arshift", shift(lua, "arshift", |x, n| x >> n)?)?;
    bit.raw_set("rol", shift(lua, "rol", |x, n| (x as u32).rotate_left(n) as i32)?)?;
    bit.raw_set("ror", shift(lua, "ror", |x, n| (x as u32).rotate_right(n) as i32)?)?;
    bit.raw_set(
        "tohex",
        lua.create_function(|_, args: MultiValue| {
            let x = arg(&args, 0, "tohex")? as u32;
            let n = if args.len() > 1 { arg(&args, 1, "tohex")? } else { 8 };
            let (upper, width) = if n < 0 { (true, n.unsigned_abs()) } else { (false, n as u32) };
            let width = width.min(8) as usize;
            let hex = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
            Ok(hex[8 - width..].to_string())
        })?,
    )?;
    Ok(bit)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_and_rounds_as_luabitop() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(4_294_967_296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2); // round half to even, as the FPU does
    }
}
