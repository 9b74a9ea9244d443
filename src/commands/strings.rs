//! String commands (Redis's `t_string.c`): GET, SET and the rest of the family.

use bytes::Bytes;
use meshkv_storage::{Expiry, Value};

use super::args::{int, is};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

const KEY1: Keys = Keys::Range { first: 1, last: 1, step: 1 };

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: READONLY | FAST,
        keys: KEY1,
        group: "string",
        summary: "Returns the string value of a key.",
        since: "1.0.0",
        handler: get,
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: WRITE | DENYOOM,
        keys: KEY1,
        group: "string",
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        since: "1.0.0",
        handler: set,
    },
];

fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    match ctx.txn.value(ctx.db(), &key) {
        None => ctx.out.null(),
        Some(v) => ctx.out.bulk(v.as_str()?),
    }
    Ok(())
}

/// SET's condition on the key's existence.
#[derive(PartialEq)]
enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// Converts a relative or absolute expiry argument to absolute Unix ms, with Redis's checks.
pub(super) fn expiry_at(arg: &[u8], unit_ms: i64, absolute: bool, now_ms: u64, cmd: &str) -> Result<u64, CmdError> {
    let invalid = || CmdError::err(format!("invalid expire time in '{cmd}' command"));
    let n = int(arg)?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now_ms as i64).ok_or_else(invalid)? };
    Ok(at as u64)
}

fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut condition = Condition::Always;
    let mut expiry = Expiry::Persist;
    let mut get_old = false;
    let mut have_expiry = false;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        if is(opt, "NX") && condition == Condition::Always {
            condition = Condition::IfAbsent;
        } else if is(opt, "XX") && condition == Condition::Always {
            condition = Condition::IfPresent;
        } else if is(opt, "GET") {
            get_old = true;
        } else if is(opt, "KEEPTTL") && !have_expiry {
            expiry = Expiry::Keep;
            have_expiry = true;
        } else if !have_expiry && next.is_some() && ["EX", "PX", "EXAT", "PXAT"].iter().any(|o| is(opt, o)) {
            let (unit, absolute) = match opt.to_ascii_uppercase().as_slice() {
                b"EX" => (1000, false),
                b"PX" => (1, false),
                b"EXAT" => (1000, true),
                _ => (1, true),
            };
            let at = expiry_at(next.expect("checked"), unit, absolute, ctx.now_ms(), "set")?;
            expiry = Expiry::At(at);
            have_expiry = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let old = match ctx.txn.peek(db, &key) {
        Some(e) => {
            let old = e.value.as_str().cloned();
            if get_old && old.is_err() {
                return Err(CmdError::WrongType);
            }
            Some(old.ok())
        }
        None => None,
    };
    let write = match condition {
        Condition::Always => true,
        Condition::IfAbsent => old.is_none(),
        Condition::IfPresent => old.is_some(),
    };
    if write {
        ctx.txn.insert(db, key, Value::Str(args[2].clone()), expiry);
    }
    if get_old {
        match old.flatten() {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else if write {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
    Ok(())
}
