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
        let line =
            format!("{}:M {}.{:03} {} {}\n", std::process::id(), now.as_secs(), now.subsec_millis(), mark, message);
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
