//! The report folder of a run: `history.jsonl` (every operation), `final.json` (what each node
//! held after the heal), `schedule.json` (the faults as planned and as they happened),
//! `verdict.json`, a readable `summary.txt`, and PNG plots of latency and throughput per node with
//! the fault windows shaded.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::checker::{Anomaly, FinalState, RunFacts, Verdict};
use crate::history::{write_jsonl, Op};
use crate::nemesis::{Planned, Window};
use crate::plot;
use crate::run::{Options, RunError};

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError(format!("{}: {e}", path.display()))
}

fn json<T: Serialize>(path: &Path, value: &T) -> Result<(), RunError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RunError(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// What a run that did not reach its verdict leaves: the history and why.
pub fn write_partial(dir: &Path, history: &[Op], why: &str) -> Result<(), RunError> {
    let path = dir.join("history.jsonl");
    write_jsonl(history, &path).map_err(io(&path))?;
    let path = dir.join("summary.txt");
    std::fs::write(&path, format!("no verdict: {why}\n{} history entries in history.jsonl\n", history.len()))
        .map_err(io(&path))
}

#[derive(Serialize)]
struct Schedule<'a> {
    planned: &'a [Planned],
    happened: &'a [Window],
}

/// Writes the whole report.
#[allow(clippy::too_many_arguments)]
pub fn write(
    dir: &Path,
    opts: &Options,
    plan: &[Planned],
    windows: &[Window],
    history: &[Op],
    fin: &FinalState,
    facts: &RunFacts,
    verdict: &Verdict,
) -> Result<(), RunError> {
    let path = dir.join("history.jsonl");
    write_jsonl(history, &path).map_err(io(&path))?;
    json(&dir.join("final.json"), fin)?;
    json(&dir.join("schedule.json"), &Schedule { planned: plan, happened: windows })?;
    json(&dir.join("verdict.json"), verdict)?;
    json(&dir.join("options.json"), opts)?;
    let plots =
        plot::draw(dir, history, windows, opts.nodes, opts.time).map_err(|e| RunError(format!("plots: {e}")))?;
    let path = dir.join("summary.txt");
    std::fs::write(&path, summary(opts, windows, fin, facts, verdict, &plots)).map_err(io(&path))
}

/// Lists anomalies, at most [`PER_KIND`] of each kind (verdict.json has them all), and the
/// README's words for the documented ones once.
fn list(s: &mut String, anomalies: &[&Anomaly]) {
    let mut kinds: Vec<&str> = anomalies.iter().map(|a| a.kind.as_str()).collect();
    kinds.dedup();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let of_kind: Vec<&&Anomaly> = anomalies.iter().filter(|a| a.kind == kind).collect();
        let _ = writeln!(s, "  {kind}: {}", of_kind.len());
        for a in of_kind.iter().take(PER_KIND) {
            let _ = writeln!(s, "    {}: {}", a.key, a.detail);
        }
        if of_kind.len() > PER_KIND {
            let _ = writeln!(s, "    ... {} more in verdict.json", of_kind.len() - PER_KIND);
        }
        let mut docs: Vec<&str> = of_kind.iter().filter_map(|a| a.documented.as_deref()).collect();
        docs.sort();
        docs.dedup();
        for doc in docs {
            let _ = writeln!(s, "    documented: {doc}");
        }
    }
}

const PER_KIND: usize = 10;

/// The readable verdict.
pub fn summary(
    opts: &Options,
    windows: &[Window],
    fin: &FinalState,
    facts: &RunFacts,
    v: &Verdict,
    plots: &str,
) -> String {
    let mut s = String::new();
    let verdict = if v.valid { "VALID" } else { "INVALID" };
    let _ = writeln!(s, "meshkv-jepsen: {verdict}{}", if v.strict { " (strict)" } else { "" });
    let _ = writeln!(
        s,
        "reproduce: meshkv-jepsen --nodes {} --time {} --nemesis {} --tier {} --topology {} --seed {}",
        opts.nodes,
        opts.time.as_secs(),
        if opts.nemesis.is_empty() { "none".to_string() } else { opts.nemesis.join(",") },
        serde_json::to_value(opts.tier).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        serde_json::to_value(opts.topology).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        opts.seed
    );
    let st = &v.stats;
    let _ = writeln!(s, "operations: {} ok, {} failed, {} unknown (info)", st.ops_ok, st.ops_fail, st.ops_info);
    let _ = writeln!(
        s,
        "convergence: {}",
        v.convergence_ms
            .map_or("NOT within the limit".to_string(), |ms| format!("every digest equal {ms} ms after the heal"))
    );
    let _ = writeln!(
        s,
        "sets: {} acknowledged adds, {} lost; counters: {} acknowledged, {} lost; {} reads checked; {} pair reads checked for half an MSET; {} durability probes{}",
        st.acked_adds,
        st.lost_adds,
        st.acked_increments,
        st.lost_increments,
        st.reads_checked,
        st.pair_reads,
        st.probes,
        if facts.restarted { "; nodes were restarted" } else { "" }
    );
    for (i, node) in fin.nodes.iter().enumerate() {
        let counters: Vec<String> = node.replication.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "node {i} since its last start: {}", counters.join(" "));
    }
    let _ = writeln!(s, "\nfaults ({}):", windows.len());
    for w in windows {
        let _ = writeln!(s, "  {:>7.1}s - {:>7.1}s  {}", w.start_us as f64 / 1e6, w.end_us as f64 / 1e6, w.label);
    }
    let (documented, failures): (Vec<_>, Vec<_>) = v.anomalies.iter().partition(|a| a.documented.is_some());
    let _ = writeln!(s, "\nfailures ({}):", failures.len());
    list(&mut s, &failures);
    let _ = writeln!(
        s,
        "\ndocumented, expected losses ({}){}:",
        documented.len(),
        if v.strict { ", failures in strict mode" } else { "" }
    );
    list(&mut s, &documented);
    let _ = writeln!(s, "\n{plots}");
    s
}
