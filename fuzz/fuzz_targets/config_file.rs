//! The configuration file parser, fed any file: a bad line is an error naming the file and line,
//! never a panic. The text goes to the parser in memory (what `config::load` does after reading
//! the file), so a run spends its time parsing rather than writing a temporary file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A file that is not UTF-8 is refused by `load` when it reads it, before any parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = meshkv::config::load_text(text, "fuzz.conf") {
        let _ = e.to_string();
    }
});
