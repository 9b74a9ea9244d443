//! Log lines in Redis's format (`pid:M 23 Nov 2026 15:20:01.123 * message`), to stdout or `logfile`.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;

use crate::config::LogLevel;

/// Where log lines go, and which are kept.
pub struct Logger {
    level: AtomicU8,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Logger {
    /// A logger writing to `logfile` (stdout when empty).
    pub fn open(logfile: &str, level: LogLevel) -> std::io::Result<Logger> {
        let out: Box<dyn Write + Send> = if logfile.is_empty() {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::OpenOptions::new().create(true).append(true).open(logfile)?)
        };
        Ok(Logger { level: AtomicU8::new(level as u8), out: Mutex::new(out) })
    }

    /// Changes the level (CONFIG SET loglevel).
    pub fn set_level(&self, level: LogLevel) {
        self.level.store(level as u8, Ordering::Relaxed);
    }

    /// Writes one line at `level`.
    pub fn log(&self, level: LogLevel, message: &str) {
        if (level as u8) < self.level.load(Ordering::Relaxed) {
            return;
        }
        let mark = match level {
            LogLevel::Debug => '.',
            LogLevel::Verbose => '-',
            LogLevel::Notice => '*',
            _ => '#',
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let line = format!("{}:M {} {} {}\n", std::process::id(), timestamp(now), mark, message);
        let mut out = self.out.lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }

    /// Logs at notice level.
    pub fn notice(&self, message: &str) {
        self.log(LogLevel::Notice, message);
    }

    /// Logs at warning level.
    pub fn warning(&self, message: &str) {
        self.log(LogLevel::Warning, message);
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `23 Nov 2026 15:20:01.123` for a time since the Unix epoch, as Redis writes its log (`%d %b %Y
/// %H:%M:%S`, in UTC here where Redis uses local time).
fn timestamp(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_to_civil).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{day:02} {} {year} {:02}:{:02}:{:02}.{:03}",
        MONTHS[(month - 1) as usize],
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::timestamp;
    use std::time::Duration;

    #[test]
    fn timestamps_read_like_redis() {
        assert_eq!(timestamp(Duration::from_millis(0)), "01 Jan 1970 00:00:00.000");
        assert_eq!(timestamp(Duration::from_millis(1_795_461_799_969)), "23 Nov 2026 19:23:19.969");
        assert_eq!(timestamp(Duration::from_secs(951_782_400)), "29 Feb 2000 00:00:00.000");
    }
}
