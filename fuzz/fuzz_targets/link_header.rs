//! Arbitrary bytes as one or more `Link` header values (one per line) into
//! `okta::page::parse_link_header` and `Cursor::advance`. Must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    revokd::okta::fuzzing::exercise_link_header(data);
});
