//! Reading keydb.conf-style files: one directive per line, `#` comments, quoted arguments (the same
//! splitting rules as inline commands), `include` of further files, and `--directive value`
//! overrides from the command line applied last.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use thiserror::Error;

use super::{directive, Config, Rule};

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

/// What loading a configuration produced: the config, and what to log once logging is up.
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// The directives accepted with no effect (they tune what meshkv does differently), in the
    /// order met, each once.
    pub no_effect: Vec<String>,
}

impl Loaded {
    /// The one log line that names the directives accepted with no effect, if any.
    pub fn no_effect_note(&self) -> Option<String> {
        (!self.no_effect.is_empty()).then(|| {
            format!(
                "{} directive(s) of the configuration have no effect in meshkv (each tunes something meshkv does \
                 differently; the README's table of directives says what): {}",
                self.no_effect.len(),
                self.no_effect.join(", ")
            )
        })
    }
}

/// Builds the configuration from an optional file and `(directive, args)` overrides.
pub fn load(path: Option<&Path>, overrides: &[(String, Vec<String>)]) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded { config: Config::default(), no_effect: Vec::new() };
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

/// Builds the configuration from a file's text already in memory, `file` naming it in errors.
/// `include` lines still read the files they name. What [`load`] does once it has read the file,
/// without the file system: the fuzz target drives the parser through here at memory speed.
pub fn load_text(text: &str, file: &str) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded { config: Config::default(), no_effect: Vec::new() };
    parse_text(text, file, &mut loaded, 0)?;
    Ok(loaded)
}

fn load_file(path: &Path, loaded: &mut Loaded, depth: usize) -> Result<(), ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable { path: path.to_path_buf(), source })?;
    parse_text(&text, &path.display().to_string(), loaded, depth)
}

/// Applies every line of `text` (the contents of `file`, included `depth` levels deep).
fn parse_text(text: &str, file: &str, loaded: &mut Loaded, depth: usize) -> Result<(), ConfigError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| ConfigError::BadLine {
            version: env!("CARGO_PKG_VERSION"),
            file: file.to_string(),
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
        apply(loaded, file, i + 1, line, name, rest)?;
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
    if name.eq_ignore_ascii_case("rename-command") {
        let [old, new] = args else { return Err(bad("Bad directive or wrong number of arguments".to_string())) };
        let renames = &mut loaded.config.renamed_commands;
        renames.push((old.clone(), new.clone()));
        if let Err(e) = crate::commands::CommandTable::renamed(renames) {
            return Err(bad(e.to_string()));
        }
        return Ok(());
    }
    if name.eq_ignore_ascii_case("user") {
        let Some((user, rules)) = args.split_first() else {
            return Err(bad("Bad directive or wrong number of arguments".to_string()));
        };
        if loaded.config.acl_users.iter().any(|(n, _)| n == user) {
            return Err(bad(format!(
                "Error in user declaration '{user}': Duplicate user found. A user can only be defined once in config files"
            )));
        }
        crate::acl::user_from_rules(user, rules, loaded.config.acl_pubsub_all)
            .map_err(|e| bad(format!("Error in user declaration '{user}': {e}")))?;
        loaded.config.acl_users.push((user.clone(), rules.to_vec()));
        return Ok(());
    }
    if let Some(d) = directive(name) {
        return (d.set)(&mut loaded.config, args).map_err(|e| bad(format!("{} {}", d.name, e)));
    }
    let Some((name, rule)) = super::rule(name) else {
        return Err(bad("Bad directive or wrong number of arguments".to_string()));
    };
    match rule {
        Rule::Tunes(_) => {
            if !loaded.no_effect.iter().any(|n| n == name) {
                loaded.no_effect.push(name.to_string());
            }
            Ok(())
        }
        Rule::Only { values, reason } => {
            let value = args.join(" ");
            if values.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
                return Ok(());
            }
            Err(bad(format!("'{name} {value}' is not supported by meshkv: {reason}")))
        }
        Rule::Refused(reason) => Err(bad(format!("'{name}' is not supported by meshkv: {reason}"))),
        // Implemented directives were found above; an alias's rule is its target's.
        Rule::Implemented | Rule::Partly(_) | Rule::Alias(_) => {
            Err(bad("Bad directive or wrong number of arguments".to_string()))
        }
    }
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
    fn text_in_memory_parses_like_a_file_and_names_it_in_errors() {
        let loaded = load_text("port 7002\n# note\nrequirepass \"x y\"\n", "mem.conf").unwrap();
        assert_eq!(loaded.config.port, 7002);
        assert_eq!(loaded.config.requirepass, "x y");
        let err = load_text("port 7002\nno-such-directive 1\n", "mem.conf").err().unwrap().to_string();
        assert!(err.contains("mem.conf, at line 2"), "{err}");
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
        assert_eq!(loaded.no_effect, ["lazyfree-lazy-user-flush"], "a directive with no effect is noted once");
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

    #[test]
    fn directives_that_protect_data_are_refused_with_file_line_and_reason() {
        let path = write("refused", "port 7000\ncluster-enabled no\ncluster-enabled yes\n");
        let err = load(Some(&path), &[]).err().unwrap().to_string();
        assert!(err.contains(&format!("{}, at line 3", path.display())), "{err}");
        assert!(
            err.contains("'cluster-enabled yes' is not supported by meshkv")
                && err.contains("active-active replication"),
            "{err}"
        );
        let path = write("tls", "tls-port 6380\ntls-protocols TLSv1.2\n");
        let err = load(Some(&path), &[]).err().unwrap().to_string();
        assert!(err.contains("at line 2") && err.contains("this TLS option is not implemented"), "{err}");
        let err = load(None, &[("min-slaves-to-write".into(), vec!["1".into()])]).err().unwrap().to_string();
        assert!(err.contains("command line") && err.contains("'min-replicas-to-write 1' is not supported"), "{err}");
    }

    #[test]
    fn rename_command_lines_apply_in_order_and_bad_ones_are_refused() {
        let path =
            write("rename", "rename-command CONFIG cfg\nrename-command cfg cfg2\nrename-command FLUSHALL \"\"\n");
        let loaded = load(Some(&path), &[]).unwrap();
        let table = crate::commands::CommandTable::renamed(&loaded.config.renamed_commands).unwrap();
        assert!(
            table.lookup(b"config").is_none() && table.lookup(b"cfg").is_none() && table.lookup(b"flushall").is_none()
        );
        assert_eq!(table.lookup(b"CFG2").map(|c| c.name), Some("config"));
        assert_eq!(table.len(), crate::commands::CommandTable::new().len() - 1);
        for (text, reason) in [
            ("rename-command nosuch x\n", "No such command in rename-command"),
            ("rename-command get x\nrename-command get y\n", "No such command in rename-command"),
            ("rename-command get set\n", "Target command name already exists"),
            ("rename-command get\n", "Bad directive or wrong number of arguments"),
        ] {
            let path = write("rename-bad", text);
            let err = load(Some(&path), &[]).err().unwrap().to_string();
            assert!(err.ends_with(reason), "{text:?}: {err}");
        }
    }

    #[test]
    fn aliases_and_values_that_describe_meshkv_are_accepted() {
        let path = write(
            "aliases",
            "slave-read-only no\nslaveof 10.0.0.1 6379\nnotify-keyspace-events \"\"\nio-threads 4\nio-threads 2\n",
        );
        let loaded = load(Some(&path), &[]).unwrap();
        assert!(!loaded.config.replica_read_only);
        assert_eq!(loaded.config.replicaof, [("10.0.0.1".to_string(), 6379)]);
        assert_eq!(loaded.no_effect, ["io-threads"]);
        assert!(loaded.no_effect_note().unwrap().contains("1 directive(s)"));
    }
}
