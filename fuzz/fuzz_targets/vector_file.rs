//! Vector-file parser (amp_vectors::parse) on arbitrary bytes: no panic, and what it accepts it
//! accepts again under any file name of the same stem (the name only labels trials).
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "address.json",
    "signature.json",
    "payload_hash.json",
    "canonical_string.json",
    "webhook_hmac.json",
    "fuzz.json",
];

fuzz_target!(|data: &[u8]| {
    let (name, bytes) = match data.split_first() {
        Some((first, rest)) => (NAMES[usize::from(*first) % NAMES.len()], rest),
        None => ("fuzz.json", data),
    };
    match amp_vectors::parse(name, bytes) {
        Ok(file) => {
            // Lint must not panic on anything the parser accepted.
            let _ = amp_vectors::lint(std::slice::from_ref(&file));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
