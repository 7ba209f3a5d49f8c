//! What a test keeps of its own environment when it clears a spawned binary's: only what
//! libfaketime reads (`LD_PRELOAD` when it loads libfaketime, and the `FAKETIME*` variables;
//! Linux), so that under `faketime` (as `.ci/run` runs the tests 400 days ahead) the binary
//! runs at the test's instant.

/// The variables of this process that fake its clock; none outside `faketime`.
pub fn clock_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars()
        .filter(|(k, v)| k.starts_with("FAKETIME") || (k == "LD_PRELOAD" && v.contains("faketime")))
}
