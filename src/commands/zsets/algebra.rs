//! Set algebra over sorted sets: ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD.
//!
//! Plain sets are accepted as inputs, every member scoring 1. Inputs are read as shared
//! snapshots (`Arc` clones), so a destination that is also an input is simply replaced.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::value::{SetValue, ZSet};
use meshkv_storage::Value;

use super::super::args::{float, int, is, parse_int};
use super::super::Ctx;
use super::{reply_members, store};
use crate::error::{CmdError, CmdResult};

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Combines the score so far with the next one; a NaN sum (`inf` + `-inf`) counts as 0, as in
    /// Redis. MIN and MAX keep the score so far unless the next one is strictly better, as Redis's
    /// comparisons do (so `-0` and `0` keep whichever came first).
    fn apply(self, so_far: f64, next: f64) -> f64 {
        match self {
            Aggregate::Sum => zero_if_nan(so_far + next),
            Aggregate::Min => {
                if next < so_far {
                    next
                } else {
                    so_far
                }
            }
            Aggregate::Max => {
                if next > so_far {
                    next
                } else {
                    so_far
                }
            }
        }
    }
}

fn zero_if_nan(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x
    }
}

/// One input: a sorted set, a plain set, or nothing (a missing key).
enum Source {
    Missing,
    ZSet(Arc<ZSet>),
    Set(Arc<SetValue>),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(member),
            Source::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    fn entries(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(z) => Box::new(z.iter()),
            Source::Set(s) => Box::new(s.iter().map(|m| (&m[..], 1.0))),
        }
    }
}

/// A parsed request.
struct Request {
    sources: Vec<Source>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

/// Which command is parsing: decides the options it takes.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// ZUNION, ZINTER, ZDIFF: WITHSCORES allowed.
    Reply,
    /// The STORE forms.
    Store,
    /// ZINTERCARD: only LIMIT.
    Card,
}

/// Parses `numkeys key [key ...] [options]` at `args[at..]`, reading the inputs. As in Redis the
/// inputs' types are checked before the options are parsed.
fn parse(ctx: &mut Ctx, args: &[Bytes], at: usize, op: Op, form: Form) -> Result<Request, CmdError> {
    let n = int(&args[at])?;
    if n < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        return Err(CmdError::err(format!("at least 1 input key is needed for '{name}' command")));
    }
    if n >= (args.len() - at) as i64 {
        return Err(CmdError::Syntax);
    }
    let n = n as usize;
    let db = ctx.db();
    let mut sources = Vec::with_capacity(n);
    for name in &args[at + 1..=at + n] {
        let key = ctx.key(name);
        sources.push(match ctx.txn.value(db, &key) {
            None => Source::Missing,
            Some(Value::ZSet(z)) => Source::ZSet(z.clone()),
            Some(Value::Set(s)) => Source::Set(s.clone()),
            Some(v @ Value::DotSet(_)) => Source::Set(Arc::new(v.as_set()?.clone())),
            Some(v @ Value::DotZSet(_)) => Source::ZSet(Arc::new(v.as_zset()?.clone())),
            Some(_) => return Err(CmdError::WrongType),
        });
    }
    let mut req = Request { sources, weights: vec![1.0; n], aggregate: Aggregate::Sum, withscores: false, limit: 0 };
    let mut i = at + 1 + n;
    while i < args.len() {
        let (opt, remaining) = (&args[i], args.len() - i);
        if op != Op::Diff && form != Form::Card && remaining > n && is(opt, "WEIGHTS") {
            for (w, arg) in req.weights.iter_mut().zip(&args[i + 1..=i + n]) {
                *w = float(arg).map_err(|_| CmdError::fixed("ERR weight value is not a float"))?;
            }
            i += n;
        } else if op != Op::Diff && form != Form::Card && remaining >= 2 && is(opt, "AGGREGATE") {
            let how = &args[i + 1];
            req.aggregate = match () {
                _ if is(how, "SUM") => Aggregate::Sum,
                _ if is(how, "MIN") => Aggregate::Min,
                _ if is(how, "MAX") => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            i += 1;
        } else if form == Form::Reply && is(opt, "WITHSCORES") {
            req.withscores = true;
        } else if form == Form::Card && remaining >= 2 && is(opt, "LIMIT") {
            req.limit = parse_int(&args[i + 1])
                .and_then(|l| usize::try_from(l).ok())
                .ok_or(CmdError::fixed("ERR LIMIT can't be negative"))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(req)
}

/// Computes the result of `op` over the request's inputs.
fn compute(req: &Request, op: Op) -> ZSet {
    let weighted = |i: usize, score: f64| zero_if_nan(req.weights[i] * score);
    let mut acc: HashMap<&[u8], f64> = HashMap::new();
    match op {
        Op::Union => {
            // Smallest input first, as Redis sorts its inputs by size (glibc's stable sort): with
            // MIN or MAX the first of two equal scores (say -0 and 0) is the one kept.
            let mut order: Vec<usize> = (0..req.sources.len()).collect();
            order.sort_by_key(|&i| req.sources[i].len());
            for i in order {
                let src = &req.sources[i];
                for (member, score) in src.entries() {
                    let score = weighted(i, score);
                    acc.entry(member).and_modify(|s| *s = req.aggregate.apply(*s, score)).or_insert(score);
                }
            }
        }
        Op::Inter => {
            // Walk the smallest input and look the rest up, as Redis does.
            let mut order: Vec<usize> = (0..req.sources.len()).collect();
            order.sort_by_key(|&i| req.sources[i].len());
            let Some((first, others)) = order.split_first() else { return ZSet::default() };
            'members: for (member, score) in req.sources[*first].entries() {
                let mut total = weighted(*first, score);
                for &j in others {
                    match req.sources[j].score(member) {
                        // As in Redis, only the first input's weighted score has a NaN (0 * inf)
                        // made 0; the others' go to the aggregate as they are (a NaN sum is then
                        // 0, and MIN or MAX keep the score so far).
                        Some(s) => total = req.aggregate.apply(total, req.weights[j] * s),
                        None => continue 'members,
                    }
                }
                acc.insert(member, total);
            }
        }
        Op::Diff => {
            let Some((first, others)) = req.sources.split_first() else { return ZSet::default() };
            for (member, score) in first.entries() {
                if others.iter().all(|o| o.score(member).is_none()) {
                    acc.insert(member, score);
                }
            }
        }
    }
    let mut result = ZSet::default();
    for (member, score) in acc {
        result.insert(Bytes::copy_from_slice(member), score);
    }
    result
}

fn reply_form(ctx: &mut Ctx, args: &[Bytes], op: Op) -> CmdResult {
    let req = parse(ctx, args, 1, op, Form::Reply)?;
    let result = compute(&req, op);
    let items: Vec<(&[u8], f64)> = result.iter().collect();
    reply_members(ctx.out, &items, req.withscores);
    Ok(())
}

fn store_form(ctx: &mut Ctx, args: &[Bytes], op: Op) -> CmdResult {
    let req = parse(ctx, args, 2, op, Form::Store)?;
    // A stored -0 becomes 0, as in Redis's listpack; ZUNION and friends reply with -0 as computed.
    let mut result = ZSet::default();
    for (member, score) in compute(&req, op).iter() {
        result.insert(Bytes::copy_from_slice(member), score + 0.0);
    }
    let event = match op {
        Op::Union => "zunionstore",
        Op::Inter => "zinterstore",
        Op::Diff => "zdiffstore",
    };
    let len = store(ctx, &args[1], result, event);
    ctx.out.int(len as i64);
    Ok(())
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub(super) fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_form(ctx, args, Op::Union)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub(super) fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_form(ctx, args, Op::Inter)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub(super) fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_form(ctx, args, Op::Diff)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]`
pub(super) fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    store_form(ctx, args, Op::Union)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]`
pub(super) fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    store_form(ctx, args, Op::Inter)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
pub(super) fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    store_form(ctx, args, Op::Diff)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: the intersection's size, counting stops at
/// LIMIT when one is given.
pub(super) fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let req = parse(ctx, args, 1, Op::Inter, Form::Card)?;
    let mut count = 0;
    let smallest = req.sources.iter().min_by_key(|s| s.len());
    for (member, _) in smallest.into_iter().flat_map(|s| s.entries()) {
        if req.sources.iter().all(|s| s.score(member).is_some()) {
            count += 1;
            if count == req.limit {
                break;
            }
        }
    }
    ctx.out.int(count as i64);
    Ok(())
}
