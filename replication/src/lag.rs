//! A small lock-free histogram of apply lag in milliseconds, for INFO's p50 and p99.
//!
//! Buckets are powers of two up to about a minute; a percentile is reported as the upper bound of
//! its bucket, which is honest to within a factor of two and costs one atomic add per change.

use std::sync::atomic::{AtomicU64, Ordering};

const BUCKETS: usize = 18; // 0, 1, 2-3, 4-7, … up to 2^16 ms and beyond

/// Counts of lags per power-of-two bucket.
#[derive(Default)]
pub struct LagHistogram {
    counts: [AtomicU64; BUCKETS],
}

impl LagHistogram {
    /// Records one lag.
    pub fn record(&self, lag_ms: u64) {
        let bucket = (64 - lag_ms.leading_zeros() as usize).min(BUCKETS - 1);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bounds (ms) of the buckets holding the 50th and 99th percentile (0, 0 if empty).
    pub fn percentiles(&self) -> (u64, u64) {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let at = |fraction: f64| {
            let want = ((total as f64) * fraction).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (bucket, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= want {
                    return if bucket == 0 { 0 } else { (1u64 << bucket) - 1 };
                }
            }
            0
        };
        if total == 0 {
            return (0, 0);
        }
        (at(0.5), at(0.99))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_land_in_the_right_buckets() {
        let h = LagHistogram::default();
        assert_eq!(h.percentiles(), (0, 0));
        for _ in 0..98 {
            h.record(3);
        }
        h.record(100);
        h.record(1000);
        assert_eq!(h.percentiles(), (3, 127));
        for _ in 0..10 {
            h.record(1000);
        }
        assert_eq!(h.percentiles(), (3, 1023));
    }
}
