//! Counters that many threads bump: striped over cache lines so they never contend.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

const STRIPES: usize = 32;

#[repr(align(128))]
#[derive(Default)]
struct Slot(AtomicU64);

/// A counter that threads add to without sharing a cache line; reads sum the stripes.
#[derive(Default)]
pub struct StripedCounter {
    slots: [Slot; STRIPES],
}

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn stripe() -> usize {
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) as usize % STRIPES);
        }
        s.get()
    })
}

impl StripedCounter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        if n != 0 {
            self.slots[stripe()].0.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The current total.
    pub fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }

    /// Sets the total to zero (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for s in &self.slots {
            s.0.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_across_threads() {
        let c = std::sync::Arc::new(StripedCounter::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.add(1)))
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(c.get(), 4000);
        c.reset();
        assert_eq!(c.get(), 0);
    }
}
