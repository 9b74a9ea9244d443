//! Command errors, and the exact Redis text each one becomes at the protocol edge.

use std::borrow::Cow;

use meshkv_storage::StorageError;
use thiserror::Error;

/// Why a command failed. `Display` gives the Redis error line without the leading `-`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// The key holds another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// Options that do not parse.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument that must be an integer is not (or overflows i64).
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument that must be a float is not.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// INCR and friends would overflow.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// The key does not exist (RENAME, LSET, ...).
    #[error("ERR no such key")]
    NoSuchKey,
    /// LSET's index is past the end.
    #[error("ERR index out of range")]
    IndexOutOfRange,
    /// SELECT, MOVE, SWAPDB with a bad database number.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// Wrong number of arguments; holds the command's full name (`get`, `config|get`).
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(Cow<'static, str>),
    /// A subcommand the command does not have.
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand {
        /// The subcommand as sent.
        sub: String,
        /// The command as it was called, upper case.
        cmd: Cow<'static, str>,
    },
    /// A value would exceed `proto-max-bulk-len`.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    TooBig,
    /// FLASH tier: writes to disk fail, so write commands are refused until a retry succeeds, as
    /// Redis 7 refuses them while its AOF cannot be written (`-MISCONF Errors writing to the AOF
    /// file: <strerror>`). Holds the cause in the system's words (`No space left on device`).
    #[error("MISCONF Errors writing to the flash store: {0}")]
    FlashWrite(String),
    /// Any other error: the full line, prefix included (`ERR ...`, `NOAUTH ...`).
    #[error("{0}")]
    Other(Cow<'static, str>),
    /// An error a script raised that a command it called replied with: the full line, as
    /// [`CmdError::Other`], but INFO errorstats counted it when that command replied (Redis
    /// counts an error reply once), so the script's command counts only its own failed call.
    #[error("{0}")]
    Counted(Cow<'static, str>),
}

impl CmdError {
    /// An `ERR`-prefixed error with this text.
    pub fn err(text: impl Into<String>) -> CmdError {
        CmdError::Other(Cow::Owned(format!("ERR {}", text.into())))
    }

    /// An error whose full line (prefix included) is a static string.
    pub const fn fixed(line: &'static str) -> CmdError {
        CmdError::Other(Cow::Borrowed(line))
    }
}

impl From<StorageError> for CmdError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::WrongType => CmdError::WrongType,
        }
    }
}

/// The result of a command handler: `Ok` once its reply is written.
pub type CmdResult = Result<(), CmdError>;
