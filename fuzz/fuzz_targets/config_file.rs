//! The configuration file parser, fed any file: a bad line is an error naming the file and line,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("meshkv-fuzz-{}.conf", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Err(e) = meshkv::config::load(Some(&path), &[]) {
        let _ = e.to_string();
    }
});
