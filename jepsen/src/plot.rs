//! PNG plots of a run: latency of every operation over time, one file per node, and throughput per
//! node over time, with the fault windows shaded.
//!
//! The plots carry no text: plotters needs a font for text, and a test machine may have none, so
//! the axes are described in `summary.txt` instead (what [`draw`] returns) and the grid lines sit
//! at round values stated there.

use std::path::Path;
use std::time::Duration;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::history::{pairs, Kind, Op};
use crate::nemesis::Window;

type Error = Box<dyn std::error::Error>;

const FAULT: RGBColor = RGBColor(255, 215, 215);
const GRID: RGBColor = RGBColor(225, 225, 225);
/// Latencies are drawn from 0.1 ms to this.
const LATENCY_MAX_MS: f64 = 2000.0;

/// Draws every plot into `dir`; returns their description for the summary.
pub fn draw(dir: &Path, history: &[Op], windows: &[Window], nodes: usize, time: Duration) -> Result<String, Error> {
    let t_max = history.last().map_or(time.as_secs_f64(), |op| op.time_us as f64 / 1e6).max(1.0);
    // (node, completion time s, latency ms, kind)
    let mut ops = Vec::new();
    for (inv, done) in pairs(history) {
        if let Some(done) = done {
            let (i, d) = (&history[inv], &history[done]);
            let latency = (d.time_us.saturating_sub(i.time_us)) as f64 / 1e3;
            ops.push((i.node as usize, d.time_us as f64 / 1e6, latency.clamp(0.1, LATENCY_MAX_MS), d.kind));
        }
    }
    for node in 0..nodes {
        let path = dir.join(format!("latency-n{node}.png"));
        let root = BitMapBackend::new(&path, (1200, 400)).into_drawing_area();
        latency(&root, &ops, node, windows, t_max)?;
        root.present()?;
    }
    let path = dir.join("throughput.png");
    let root = BitMapBackend::new(&path, (1200, 400)).into_drawing_area();
    let peak = throughput(&root, &ops, nodes, windows, t_max)?;
    root.present()?;
    Ok(format!(
        "plots (no text; axes here): latency-nN.png: one dot per operation on node N at its completion time, \
x 0 to {t_max:.0} s with a grid line every 10 s, y log scale 0.1 ms to {LATENCY_MAX_MS} ms with grid lines at 1, 10, 100, 1000 ms; \
green ok, red failed, orange unknown. throughput.png: ok operations per second per node (colours by node: {}), \
x as above, y 0 to {peak} ops/s with a grid line every 10 ops/s. Shaded: fault windows.",
        (0..nodes).map(|n| format!("n{n} {:?}", rgb(n))).collect::<Vec<_>>().join(", ")
    ))
}

fn rgb(node: usize) -> (u8, u8, u8) {
    let c = Palette99::pick(node).to_rgba();
    (c.0, c.1, c.2)
}

fn shade_and_grid<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    windows: &[Window],
    t_max: f64,
    y: (f64, f64),
    y_grid: &[f64],
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(
        windows
            .iter()
            .map(|w| Rectangle::new([(w.start_us as f64 / 1e6, y.0), (w.end_us as f64 / 1e6, y.1)], FAULT.filled())),
    )?;
    let xs = (0..=(t_max / 10.0) as usize).map(|k| k as f64 * 10.0);
    chart.draw_series(xs.map(|x| PathElement::new(vec![(x, y.0), (x, y.1)], GRID)))?;
    chart.draw_series(y_grid.iter().map(|&v| PathElement::new(vec![(0.0, v), (t_max, v)], GRID)))?;
    Ok(())
}

fn latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    ops: &[(usize, f64, f64, Kind)],
    node: usize,
    windows: &[Window],
    t_max: f64,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart =
        ChartBuilder::on(root).margin(12).build_cartesian_2d(0f64..t_max, (0.1f64..LATENCY_MAX_MS).log_scale())?;
    shade_and_grid(&mut chart, windows, t_max, (0.1, LATENCY_MAX_MS), &[1.0, 10.0, 100.0, 1000.0])?;
    chart.draw_series(ops.iter().filter(|o| o.0 == node).map(|&(_, t, ms, kind)| {
        let color = match kind {
            Kind::Ok => RGBColor(30, 150, 60),
            Kind::Fail => RGBColor(210, 30, 30),
            _ => RGBColor(240, 150, 0),
        };
        Circle::new((t, ms), 1, color.filled())
    }))?;
    Ok(())
}

/// Draws throughput; returns the y axis's top (ops/s).
fn throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    ops: &[(usize, f64, f64, Kind)],
    nodes: usize,
    windows: &[Window],
    t_max: f64,
) -> Result<u64, Error>
where
    DB::ErrorType: 'static,
{
    let seconds = t_max.ceil() as usize + 1;
    let mut counts = vec![vec![0u64; seconds]; nodes];
    for &(node, t, _, kind) in ops {
        if kind == Kind::Ok && node < nodes {
            counts[node][(t as usize).min(seconds - 1)] += 1;
        }
    }
    let peak = counts.iter().flatten().copied().max().unwrap_or(0).max(1).div_ceil(10) * 10;
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root).margin(12).build_cartesian_2d(0f64..t_max, 0f64..peak as f64)?;
    let grid: Vec<f64> = (0..=peak / 10).map(|k| (k * 10) as f64).collect();
    shade_and_grid(&mut chart, windows, t_max, (0.0, peak as f64), &grid)?;
    for (node, per_second) in counts.iter().enumerate() {
        let points: Vec<(f64, f64)> = per_second.iter().enumerate().map(|(s, &c)| (s as f64 + 0.5, c as f64)).collect();
        chart.draw_series(std::iter::once(PathElement::new(points, Palette99::pick(node).stroke_width(2))))?;
    }
    Ok(peak)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::F;

    #[test]
    fn draws_pngs_without_any_font() {
        let mut history = Vec::new();
        for i in 0..200u64 {
            for (kind, dt) in [(Kind::Invoke, 0), (if i % 17 == 0 { Kind::Info } else { Kind::Ok }, 300 + i * 10)] {
                let mut op = Op::new(kind, (i % 4) as i64, (i % 2) as i64, F::Write, "r0");
                op.time_us = i * 50_000 + dt;
                op.index = history.len();
                history.push(op);
            }
        }
        let windows = [Window { start_us: 2_000_000, end_us: 5_000_000, label: "partition".into() }];
        let dir = std::env::temp_dir().join(format!("meshkv-jepsen-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = draw(&dir, &history, &windows, 2, Duration::from_secs(10)).unwrap();
        assert!(text.contains("throughput.png"));
        for name in ["latency-n0.png", "latency-n1.png", "throughput.png"] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
