//! Arbitrary bytes as an Okta response body into `okta::model::decode_tokens` and
//! `model::decode` for the error body and the client list. Must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    revokd::okta::fuzzing::exercise_okta_json(data);
});
