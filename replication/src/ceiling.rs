//! The clock's ceiling: a stamp this node's clock has not passed, kept in a file in `dir`.
//!
//! A restarted node witnesses what it loads (its snapshot, the FLASH tier's newest stamp), but a
//! RAM node killed after shipping writes newer than its last snapshot has not got them back yet
//! when it takes its first writes, and its clock may have run ahead of its wall clock by
//! observing a peer whose clock is ahead (within `max-clock-drift`). Its first writes after the
//! restart would then be older than its last ones before, and lose to them on every node: an
//! acknowledged write, silently undone. So the clock starts above the ceiling the last run left.
//!
//! The ceiling is kept [`MARGIN_MS`] ahead of the clock: raised about once a second as the wall
//! clock moves ([`HybridClock::tick`](crate::HybridClock::tick)), at once when a peer's stamp
//! moves the clock beyond it, and, should both be late, by the next stamp before it is handed out.
//! A restarted node's clock then starts at most about two margins ahead of its wall clock, well
//! within any peer's drift bound. It is kept only while replication runs (stamps matter to nobody
//! else), from [`Ceiling::activate`] on.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use meshkv_storage::Stamp;
use parking_lot::Mutex;

/// The file, in the node's `dir`.
pub const CEILING_FILE: &str = "clock-ceiling";
/// How far ahead of the clock the ceiling is kept, in milliseconds.
pub const MARGIN_MS: u64 = 1000;
const MARGIN: u64 = MARGIN_MS << Stamp::LOGICAL_BITS;
/// `saved` while the ceiling is not kept: no stamp is above it.
const DORMANT: u64 = u64::MAX;

/// The ceiling file and the value it holds.
#[derive(Debug)]
pub struct Ceiling {
    path: PathBuf,
    /// What the file holds (the clock may go up to it), or [`DORMANT`].
    saved: AtomicU64,
    write: Mutex<()>,
    /// Writes that failed (the clock went on: INFO and the log tell).
    pub failures: AtomicU64,
}

/// Why the ceiling file cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("Can't read the clock ceiling file {path}: {why}")]
pub struct CeilingError {
    path: String,
    why: String,
}

impl Ceiling {
    /// The ceiling of `dir`, dormant, and the value the last run left there (0 if none).
    pub fn load(dir: &Path) -> Result<(Ceiling, u64), CeilingError> {
        let path = dir.join(CEILING_FILE);
        let fail = |why: String| CeilingError { path: path.display().to_string(), why };
        let previous = match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| fail(format!("not a number: {:?}", text.trim())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(fail(e.to_string())),
        };
        let ceiling =
            Ceiling { path, saved: AtomicU64::new(DORMANT), write: Mutex::new(()), failures: AtomicU64::new(0) };
        Ok((ceiling, previous))
    }

    /// Starts keeping the ceiling: the next [`Ceiling::cover`] writes it.
    pub fn activate(&self) {
        let _ = self.saved.compare_exchange(DORMANT, 0, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Makes sure the file allows `hlc`: if it does not, writes `hlc` plus the margin (to a
    /// temporary file, synced, renamed over the old one, so a crash leaves the old or the new).
    /// One atomic load when nothing is to do.
    pub fn cover(&self, hlc: u64) {
        if hlc <= self.saved.load(Ordering::Acquire) {
            return;
        }
        let _writing = self.write.lock();
        if hlc <= self.saved.load(Ordering::Acquire) {
            return; // another thread raised it meanwhile
        }
        let new = hlc.saturating_add(MARGIN);
        if self.store(new).is_err() {
            // Counted and reported; not retried at every stamp (a failing disk would turn each
            // write into a failed fsync): the next raise tries again.
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.saved.store(new, Ordering::Release);
    }

    fn store(&self, value: u64) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, format!("{value}\n"))?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_ahead_once_active_and_read_back() {
        let dir = std::env::temp_dir().join(format!("meshkv-ceiling-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (ceiling, previous) = Ceiling::load(&dir).unwrap();
        assert_eq!(previous, 0);
        ceiling.cover(5 << Stamp::LOGICAL_BITS);
        assert!(!dir.join(CEILING_FILE).exists(), "dormant: nothing written");
        ceiling.activate();
        let hlc = 1_000_000 << Stamp::LOGICAL_BITS;
        ceiling.cover(hlc);
        let (_, saved) = Ceiling::load(&dir).unwrap();
        assert_eq!(saved, hlc + MARGIN);
        ceiling.cover(hlc + 1); // within the margin: no write
        assert_eq!(Ceiling::load(&dir).unwrap().1, hlc + MARGIN);
        ceiling.cover(hlc + 2 * MARGIN);
        assert_eq!(Ceiling::load(&dir).unwrap().1, hlc + 3 * MARGIN);
        fs::write(dir.join(CEILING_FILE), "garbage").unwrap();
        assert!(Ceiling::load(&dir).unwrap_err().to_string().contains("not a number"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
