//! The series of the overview's charts, in legend order, with their colours: age bands light
//! to dark, scope risk by alarm, revocation outcomes green (done) to red (irrevocable). The
//! names are the values the views return, so a row finds its series by name.

use super::charts::Series;

const fn s(name: &'static str, color: &'static str) -> Series {
    Series { name, color }
}

/// Age bands of `v_active_tokens_by_client_age`, youngest first.
pub const AGE_BANDS: &[Series] = &[
    s("<7d", "#c6dbef"),
    s("7-30d", "#9ecae1"),
    s("30-90d", "#6baed6"),
    s("90-365d", "#3182bd"),
    s(">365d", "#08519c"),
    s("unknown", "#bdbdbd"),
];

/// Risk levels of `v_active_tokens_by_scope_risk`, riskiest first.
pub const RISKS: &[Series] = &[
    s("admin", "#c0392b"),
    s("write", "#e67e22"),
    s("read", "#7fb77e"),
];

/// Revocation states, outcomes first.
pub const OUTCOMES: &[Series] = &[
    s("done", "#2e7d32"),
    s("already_gone", "#81c784"),
    s("failed", "#f57c00"),
    s("irrevocable", "#c62828"),
    s("pending", "#fbc02d"),
    s("planned", "#90a4ae"),
    s("skipped_exempt", "#b39ddb"),
    s("skipped_safety", "#7e57c2"),
    s("withdrawn", "#cfd8dc"),
];

/// The two bars of the exposure chart, per rule.
pub const EXPOSURE: &[Series] = &[
    s("older than threshold", "#fdae6b"),
    s("matched by the rule", "#d94801"),
];
