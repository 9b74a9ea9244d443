//! (being written)

use super::CommandSpec;

pub(super) static COMMANDS: &[CommandSpec] = &[];
