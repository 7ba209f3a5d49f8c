//! The overview's "Open problems" section: the audit chain, failed and irrevocable
//! revocations, held or failed offboarding jobs, and the last sweeps with their status. Tables
//! only; every value goes through the template's escaping (user ids, rule names and Okta's
//! error texts come from outside).

use maud::{Markup, html};

use super::Overview;
use super::page::cite;

/// At most this many rows of a problem list are shown; the count says how many there are.
const MAX_ROWS: usize = 50;

fn opt<T: std::fmt::Display>(v: Option<&T>) -> String {
    v.map_or_else(|| "–".to_owned(), ToString::to_string)
}

fn more(total: usize) -> Markup {
    html! {
        @if total > MAX_ROWS {
            p.note { "…and " (total - MAX_ROWS) " more (all in the JSON and the view)." }
        }
    }
}

fn audit(o: &Overview) -> Markup {
    let a = &o.audit;
    let head = match (a.head_id, a.head_hash.as_deref()) {
        (Some(id), Some(hash)) => format!("{id}:{hash}"),
        _ => "none (no audit record yet)".to_owned(),
    };
    html! {
        div.audit data-problem="audit" {
            h3 { "Audit chain" (cite("audit")) }
            @if a.verified {
                p.status.good {
                    "Verifies: " (a.records.unwrap_or(0)) " records, every hash and link intact."
                }
            } @else {
                p.status.bad {
                    "BROKEN at record " (opt(a.broken_at.as_ref())) ": "
                    (a.problem.as_deref().unwrap_or("")) ". Run revokd audit verify."
                }
            }
            p { "Head: " code.hash { (head) } }
        }
    }
}

fn revocations(o: &Overview) -> Markup {
    let rows = &o.revocation_problems;
    html! {
        div data-problem="revocations" {
            h3 { "Failed and irrevocable revocations: " (rows.len()) (cite("revocation_problems")) }
            @if rows.is_empty() {
                p.status.good { "None." }
            } @else {
                table.problems {
                    thead { tr {
                        th { "intent" } th { "requested" } th { "state" } th { "user" }
                        th { "client" } th { "token" } th { "rule" } th.num { "attempts" }
                        th { "HTTP" } th { "Okta request id" } th { "error" }
                    } }
                    tbody {
                        @for r in rows.iter().take(MAX_ROWS) {
                            tr {
                                td.num { (r.intent_id) }
                                td { (r.requested_at) }
                                td { span class={ "badge " (r.state) } { (r.state) } }
                                td { (r.user_id) }
                                td { (r.client_id) }
                                td { (opt(r.token_id.as_ref())) }
                                td { (opt(r.policy.as_ref())) }
                                td.num { (r.attempts) }
                                td { (opt(r.http_status.as_ref())) }
                                td { (opt(r.okta_request_id.as_ref())) }
                                td.error { (opt(r.error.as_ref())) }
                            }
                        }
                    }
                }
                (more(rows.len()))
            }
        }
    }
}

fn offboarding(o: &Overview) -> Markup {
    let rows = &o.offboarding_problems;
    html! {
        div data-problem="offboarding" {
            h3 { "Held and failed offboarding: " (rows.len()) (cite("offboarding_problems")) }
            @if rows.is_empty() {
                p.status.good { "None." }
            } @else {
                table.problems {
                    thead { tr {
                        th { "job" } th { "user" } th { "source" } th { "state" }
                        th { "created" } th.num { "attempts" } th { "error" }
                    } }
                    tbody {
                        @for j in rows.iter().take(MAX_ROWS) {
                            tr {
                                td.num { (j.id) }
                                td { (j.user_id) }
                                td { (j.source) }
                                td { span class={ "badge " (j.state) } { (j.state) } }
                                td { (j.created_at) }
                                td.num { (j.attempts) }
                                td.error { (opt(j.error.as_ref())) }
                            }
                        }
                    }
                }
                (more(rows.len()))
            }
        }
    }
}

fn sweeps(o: &Overview) -> Markup {
    let rows = &o.recent_sweeps;
    html! {
        div data-problem="sweeps" {
            h3 { "Last sweeps" (cite("recent_sweeps")) }
            @if rows.is_empty() {
                p.status.bad { "No sweep has run." }
            } @else {
                table.problems {
                    thead { tr {
                        th { "sweep" } th { "started" } th.num { "seconds" } th { "trigger" }
                        th { "mode" } th { "status" } th.num { "tokens seen" }
                        th.num { "revoked" } th.num { "failed" } th.num { "429s" } th { "error" }
                    } }
                    tbody {
                        @for s in rows {
                            tr {
                                td.num { (s.sweep_id) }
                                td { (s.started_at) }
                                td.num {
                                    (s.duration_ms.map_or_else(
                                        || "–".to_owned(),
                                        |ms| format!("{:.1}", ms as f64 / 1000.0)))
                                }
                                td { (s.trigger) }
                                td { (s.mode) }
                                td { span class={ "badge " (s.status) } { (s.status) } }
                                td.num { (s.tokens_seen) }
                                td.num { (s.revocations_done) }
                                td.num { (s.revocations_failed) }
                                td.num { (s.http_429) }
                                td.error { (opt(s.error.as_ref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The section.
pub(super) fn section(o: &Overview) -> Markup {
    html! {
        section #problems {
            h2 { "Open problems" }
            (audit(o))
            (revocations(o))
            (offboarding(o))
            (sweeps(o))
        }
    }
}
