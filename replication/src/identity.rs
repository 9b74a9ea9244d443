//! The node's identity: a UUID created once and kept in the data directory.
//!
//! Peers recognise a node (and its changes) by this UUID across restarts, so unlike KeyDB it is not
//! regenerated at boot.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use uuid::Uuid;

/// File name of the identity inside `dir`.
pub const IDENTITY_FILE: &str = "meshkv-node-id";

/// Why the identity could not be loaded or created.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// Reading or writing the identity file failed.
    #[error("cannot use node id file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file exists but does not hold a UUID.
    #[error("node id file {path} is corrupt: {text:?} is not a UUID")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What it held.
        text: String,
    },
}

/// This node's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeIdentity {
    uuid: Uuid,
}

impl NodeIdentity {
    /// Loads the identity from `dir`, creating (and durably writing) a new one on first start.
    pub fn load_or_create(dir: &Path) -> Result<NodeIdentity, IdentityError> {
        let path = dir.join(IDENTITY_FILE);
        let io_err = |source| IdentityError::Io { path: path.clone(), source };
        match fs::read_to_string(&path) {
            Ok(text) => {
                let uuid = Uuid::parse_str(text.trim())
                    .map_err(|_| IdentityError::Corrupt { path: path.clone(), text: text.clone() })?;
                Ok(NodeIdentity { uuid })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let identity = NodeIdentity { uuid: Uuid::new_v4() };
                let tmp = dir.join(format!("{IDENTITY_FILE}.tmp"));
                fs::write(&tmp, format!("{}\n", identity.uuid)).map_err(io_err)?;
                fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io_err)?;
                fs::rename(&tmp, &path).map_err(io_err)?;
                Ok(identity)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// The UUID.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// The 64-bit node id that stamps carry (the UUID's first eight bytes).
    pub fn node_id(&self) -> u64 {
        let b = self.uuid.as_bytes();
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_survives_restart_and_corruption_is_refused() {
        let dir = std::env::temp_dir().join(format!("meshkv-id-{}", Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let first = NodeIdentity::load_or_create(&dir).unwrap();
        let again = NodeIdentity::load_or_create(&dir).unwrap();
        assert_eq!(first, again);
        fs::write(dir.join(IDENTITY_FILE), "not a uuid").unwrap();
        assert!(matches!(NodeIdentity::load_or_create(&dir), Err(IdentityError::Corrupt { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }
}
