//! Errors of storage operations. The server maps each to a Redis error prefix at the protocol edge.

use thiserror::Error;

/// What a storage operation can refuse.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The key holds a value of another type.
    #[error("operation against a key holding the wrong kind of value")]
    WrongType,
}
