//! The append-only file's manifest, in Redis 7's syntax: which base file and which incremental
//! files, in order, make up the data. One line per file:
//!
//! ```text
//! file appendonly.aof.3.base.msnap seq 3 type b
//! file appendonly.aof.3.incr.maof seq 3 type i
//! ```
//!
//! It is replaced whole and atomically (a temporary file, synced, renamed over it, the directory
//! synced), so a crash leaves the old list or the new one.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The files of an append-only file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file (a snapshot) and its sequence number, if there is one.
    pub base: Option<(String, u64)>,
    /// The incremental files with their sequence numbers, oldest first; the last one is written.
    pub incrs: Vec<(String, u64)>,
}

impl Manifest {
    /// Parses a manifest as Redis 7 writes it: `key value` pairs per line (`file`, `seq`, `type`;
    /// unknown keys are skipped, as Redis skips them), `#` comments. History files (`type h`) are
    /// left out: they hold nothing the others lack.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut manifest = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let bad = |why: &str| format!("line {}: {why}", n + 1);
            if !words.len().is_multiple_of(2) {
                return Err(bad("invalid AOF manifest file format"));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair[0] {
                    "file" => name = Some(pair[1]),
                    "seq" => seq = Some(pair[1].parse::<u64>().map_err(|_| bad("bad seq"))?),
                    "type" => kind = Some(pair[1]),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("a file line needs file, seq and type"));
            };
            if name.contains('/') || name == "." || name == ".." {
                return Err(bad("a file name must not be a path"));
            }
            match kind {
                "b" if manifest.base.is_some() => return Err(bad("more than one base file")),
                "b" => manifest.base = Some((name.to_string(), seq)),
                "i" => {
                    if manifest.incrs.last().is_some_and(|(_, last)| *last >= seq) {
                        return Err(bad("incremental files out of order"));
                    }
                    manifest.incrs.push((name.to_string(), seq));
                }
                "h" => {}
                _ => return Err(bad("unknown file type")),
            }
        }
        Ok(manifest)
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some((name, seq)) = &self.base {
            out.push_str(&format!("file {name} seq {seq} type b\n"));
        }
        for (name, seq) in &self.incrs {
            out.push_str(&format!("file {name} seq {seq} type i\n"));
        }
        out
    }

    /// A sequence number newer than every file's.
    pub fn next_seq(&self) -> u64 {
        let base = self.base.as_ref().map_or(0, |(_, s)| *s);
        let incr = self.incrs.last().map_or(0, |(_, s)| *s);
        base.max(incr) + 1
    }

    /// Every file it names.
    pub fn files(&self) -> impl Iterator<Item = &str> + '_ {
        self.base.iter().chain(self.incrs.iter()).map(|(name, _)| name.as_str())
    }
}

/// Syncs a directory, so that the names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `text` atomically: a temporary file, synced, renamed over it, the
/// directory synced.
pub fn write_atomically(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!("temp-{name}"));
    let mut file = File::create(&tmp)?;
    file.write_all(text)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_redis_7_writes_and_writes_it_back() {
        let redis = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n\
                     file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(redis).unwrap();
        assert_eq!(m.base, Some(("appendonly.aof.1.base.rdb".into(), 1)));
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.render(), redis);
        assert_eq!(m.next_seq(), 3);
        // Keys in another order, history lines and comments are read as Redis reads them.
        let m = Manifest::parse("# x\ntype h seq 1 file old.aof\nseq 4 type i file a.4.incr.maof\n").unwrap();
        assert_eq!((m.base, m.incrs), (None, vec![("a.4.incr.maof".to_string(), 4)]));
        for bad in [
            "file a seq 1 type b\nfile b seq 2 type b\n",
            "file a seq x type i\n",
            "file a seq 1\n",
            "file ../a seq 1 type i\n",
            "file a seq 2 type i\nfile b seq 1 type i\n",
            "file a seq 1 type q\n",
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad:?}");
        }
    }
}
