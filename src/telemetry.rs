//! Logging set-up: `tracing` to stderr, human text by default or one JSON object per line
//! (`--log-format json`, with the fields of the current span and of every span above it) for
//! journald and log shippers. `REVOKD_LOG` (or `RUST_LOG`) overrides the filter. ANSI
//! colours only when stderr is a terminal. Stdout is left to command output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// The filter used when neither `REVOKD_LOG` nor `RUST_LOG` is set, by verbosity
/// (`-q` = -1, none = 0, `-v` = 1, `-vv` = 2).
pub fn default_filter(verbosity: i8) -> &'static str {
    match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn,revokd=info,sqlx=warn,reqwest=warn",
        1 => "info,revokd=debug,sqlx=warn,reqwest=warn",
        _ => "debug,revokd=trace",
    }
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(format: LogFormat, verbosity: i8) {
    let filter = EnvFilter::try_from_env("REVOKD_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default_filter(verbosity)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    // A subscriber already installed (tests) is fine.
    let _ = result;
}
