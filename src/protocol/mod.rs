//! RESP on the wire: parsing client requests and writing replies.

mod reply;
mod request;

pub use reply::{format_double, Reply};
pub use request::{parse_request, split_args as split_args_for_config, Parser, ProtocolError, RequestLimits};
