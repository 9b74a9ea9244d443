//! Reading keydb.conf-style files: one directive per line, `#` comments, quoted arguments (the same
//! splitting rules as inline commands), `include` of further files, and `--directive value`
//! overrides from the command line applied last.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use thiserror::Error;

use super::{directive, Config, ACCEPTED_UNIMPLEMENTED};

/// A config file that cannot be used. Printed as Redis prints its fatal config errors.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A bad line: names the file and line, quotes it, and says why.
    #[error("\n*** FATAL CONFIG FILE ERROR (meshkv {version}) ***\nReading the configuration file {file}, at line {line}\n>>> '{text}'\n{reason}")]
    BadLine {
        /// meshkv's version.
        version: &'static str,
        /// The file (or `command line`).
        file: String,
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file cannot be read.
    #[error("Fatal error, can't open config file '{path}': {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Splits one config line into arguments (quotes honoured). `None` if the quotes are unbalanced.
pub fn split_line(line: &str) -> Option<Vec<String>> {
    let mut args: Vec<Bytes> = Vec::new();
    crate::protocol::split_args_for_config(line.as_bytes(), &mut args).ok()?;
    Some(args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

/// What loading a configuration produced: the config plus warnings to log once logging is up.
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// One line per accepted-but-unimplemented directive.
    pub warnings: Vec<String>,
}

/// Builds the configuration from an optional file and `(directive, args)` overrides.
pub fn load(path: Option<&Path>, overrides: &[(String, Vec<String>)]) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded { config: Config::default(), warnings: Vec::new() };
    if let Some(path) = path {
        load_file(path, &mut loaded, 0)?;
        loaded.config.config_file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    }
    for (i, (name, args)) in overrides.iter().enumerate() {
        let text = format!("{name} {}", args.join(" "));
        apply(&mut loaded, "command line", i + 1, &text, name, args)?;
    }
    Ok(loaded)
}

fn load_file(path: &Path, loaded: &mut Loaded, depth: usize) -> Result<(), ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable { path: path.to_path_buf(), source })?;
    let file = path.display().to_string();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| ConfigError::BadLine {
            version: env!("CARGO_PKG_VERSION"),
            file: file.clone(),
            line: i + 1,
            text: line.to_string(),
            reason: reason.to_string(),
        };
        let args = split_line(line).ok_or_else(|| bad("Unbalanced quotes in configuration line"))?;
        let Some((name, rest)) = args.split_first() else { continue };
        if name.eq_ignore_ascii_case("include") {
            let [target] = rest else { return Err(bad("Bad directive or wrong number of arguments")) };
            if depth > 16 {
                return Err(bad("Too many nested includes"));
            }
            load_file(Path::new(target), loaded, depth + 1)?;
            continue;
        }
        apply(loaded, &file, i + 1, line, name, rest)?;
    }
    Ok(())
}

fn apply(
    loaded: &mut Loaded,
    file: &str,
    line: usize,
    text: &str,
    name: &str,
    args: &[String],
) -> Result<(), ConfigError> {
    let bad = |reason: String| ConfigError::BadLine {
        version: env!("CARGO_PKG_VERSION"),
        file: file.to_string(),
        line,
        text: text.to_string(),
        reason,
    };
    if let Some(d) = directive(name) {
        return (d.set)(&mut loaded.config, args).map_err(|e| bad(format!("{} {}", d.name, e)));
    }
    let lower = name.to_ascii_lowercase();
    if ACCEPTED_UNIMPLEMENTED.contains(&lower.as_str()) {
        loaded
            .warnings
            .push(format!("{file}:{line}: directive '{lower}' is not implemented by meshkv yet and is ignored"));
        return Ok(());
    }
    Err(bad("Bad directive or wrong number of arguments".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meshkv-conf-{}-{}", std::process::id(), name));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.conf");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn file_includes_quotes_and_overrides() {
        let inc = write("inc", "port 7000\n");
        let main = write(
            "main",
            &format!("# comment\nbind 0.0.0.0\nrequirepass \"a b\"\ninclude {}\nsave 900 1\nsave 60 5\nlazyfree-lazy-user-flush no\n", inc.display()),
        );
        let loaded = load(Some(&main), &[("port".into(), vec!["7001".into()])]).unwrap();
        assert_eq!(loaded.config.port, 7001);
        assert_eq!(loaded.config.requirepass, "a b");
        assert_eq!(loaded.config.bind, ["0.0.0.0"]);
        assert_eq!(loaded.config.save, [(900, 1), (60, 5)], "the first save line replaces the defaults");
        assert_eq!(loaded.warnings.len(), 1, "an unimplemented directive is accepted with one warning");
    }

    #[test]
    fn unknown_directive_names_file_and_line() {
        let path = write("bad", "port 7000\n\nfoo-bar 1\n");
        let err = load(Some(&path), &[]).err().unwrap().to_string();
        assert!(err.contains(&format!("{}, at line 3", path.display())), "{err}");
        assert!(err.contains(">>> 'foo-bar 1'"), "{err}");
        let path = write("badval", "port banana\n");
        let err = load(Some(&path), &[]).err().unwrap().to_string();
        assert!(err.contains("at line 1") && err.contains("port argument couldn't be parsed"), "{err}");
    }
}
