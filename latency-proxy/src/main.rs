//! `meshkv-latency-proxy --link LISTEN=UPSTREAM [--link ...] [--delay-ms N] [--jitter-ms M]
//! [--control ADDR]`: forwards each link with the same one-way delay; a line `delay N [M]` sent to
//! the control address changes it for every link (see the library's docs).

use std::process::ExitCode;
use std::time::Duration;

use meshkv_latency_proxy::{control, Delay, Link};
use tokio::net::TcpListener;

const USAGE: &str = "usage: meshkv-latency-proxy --link LISTEN=UPSTREAM [--link ...] \
[--delay-ms N] [--jitter-ms M] [--control ADDR]";

struct Args {
    links: Vec<(String, String)>,
    delay: Duration,
    jitter: Duration,
    control: Option<String>,
}

fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args { links: Vec::new(), delay: Duration::ZERO, jitter: Duration::ZERO, control: None };
    while let Some(flag) = words.next() {
        let mut value = || words.next().ok_or(format!("{flag} needs a value"));
        let ms =
            |v: String| v.parse::<u64>().map(Duration::from_millis).map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--link" => {
                let link = value()?;
                let (listen, upstream) =
                    link.split_once('=').ok_or(format!("--link {link}: expected LISTEN=UPSTREAM"))?;
                args.links.push((listen.to_string(), upstream.to_string()));
            }
            "--delay-ms" => args.delay = ms(value()?)?,
            "--jitter-ms" => args.jitter = ms(value()?)?,
            "--control" => args.control = Some(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.links.is_empty() {
        return Err(format!("no --link given\n{USAGE}"));
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let delay = Delay::new(args.delay, args.jitter);
    let mut tasks = tokio::task::JoinSet::new();
    for (listen, upstream) in &args.links {
        match Link::bind(listen, upstream, delay.clone()).await {
            Ok(link) => {
                eprintln!(
                    "meshkv-latency-proxy: {listen} -> {upstream}, delay {:?} + up to {:?}",
                    args.delay, args.jitter
                );
                tasks.spawn(link.run());
            }
            Err(e) => {
                eprintln!("meshkv-latency-proxy: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(addr) = &args.control {
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                tasks.spawn(control(listener, delay.clone()));
            }
            Err(e) => {
                eprintln!("meshkv-latency-proxy: cannot listen on control address {addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Every task runs until the process is stopped; one that ends has failed to accept.
    if let Some(Ok(Err(e))) = tasks.join_next().await {
        eprintln!("meshkv-latency-proxy: {e}");
    }
    ExitCode::FAILURE
}
