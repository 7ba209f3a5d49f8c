//! The overview page: a maud template (compiled in, escaping every value it is given) around
//! the SVG charts of [`super::charts`], with the stylesheet inlined. Each chart sits beside the
//! table of its numbers and names its view in a footnote. Nothing is loaded at view time.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::charts::{self, Bars, ChartError, Series};
use super::palette::{AGE_BANDS, EXPOSURE, OUTCOMES, RISKS};
use super::problems;
use super::{Overview, SOURCES};

const STYLE: &str = include_str!("overview.css");

/// The footnote number of a JSON key's source (1-based, in [`SOURCES`] order).
pub(super) fn note(key: &str) -> usize {
    SOURCES
        .iter()
        .position(|(k, _)| *k == key)
        .map_or(0, |i| i + 1)
}

/// A superscript link to the footnote naming `key`'s view.
pub(super) fn cite(key: &str) -> Markup {
    let n = note(key);
    html! { sup.cite { a href={ "#source-" (n) } { (n) } } }
}

/// The series a chart uses (some value not zero), in legend order.
fn used(bars: &Bars) -> Vec<usize> {
    (0..bars.series.len())
        .filter(|s| bars.values.iter().any(|row| row[*s] != 0))
        .collect()
}

fn legend(bars: &Bars) -> Markup {
    let series: Vec<Series> = used(bars).into_iter().map(|s| bars.series[s]).collect();
    html! {
        ul.legend {
            @for s in &series {
                li { span.swatch style={ "background:" (s.color) } {} (s.name) }
            }
        }
    }
}

/// The numbers of a chart: one row per category, one column per series, and the total.
fn figures(bars: &Bars, category: &str) -> Markup {
    let used = used(bars);
    html! {
        table.figures {
            thead { tr {
                th { (category) }
                @for s in &used { th.num { (bars.series[*s].name) } }
                @if bars.stacked { th.num { "total" } }
            } }
            tbody {
                @for (c, row) in bars.values.iter().enumerate() {
                    tr {
                        th { (bars.categories[c]) }
                        @for s in &used { td.num { (row[*s]) } }
                        @if bars.stacked { td.num { (row.iter().sum::<i64>()) } }
                    }
                }
            }
        }
    }
}

/// One chart: title, legend, SVG (or a line saying there is nothing to draw), its numbers and
/// its source. `data-chart` names it for readers and tests; `data-marks` counts its bars.
fn chart(id: &str, title: &str, key: &str, bars: &Bars, svg: &str, category: &str) -> Markup {
    let marks = bars.values.iter().flatten().filter(|v| **v > 0).count();
    html! {
        figure.chart data-chart=(id) data-marks=(marks) {
            figcaption { (title) (cite(key)) }
            @if bars.is_empty() {
                p.empty { "Nothing to show." }
            } @else {
                (legend(bars))
                div.plot { (PreEscaped(svg)) }
                (figures(bars, category))
            }
        }
    }
}

fn draw(
    name: &'static str,
    bars: &Bars,
    horizontal: bool,
    unit: &str,
) -> Result<String, ChartError> {
    if bars.is_empty() {
        Ok(String::new())
    } else if horizontal {
        charts::horizontal(name, bars, unit)
    } else {
        charts::vertical(name, bars, unit)
    }
}

/// The five bar charts' data, in page order.
struct Pictures {
    age: Bars,
    risk: Bars,
    daily: Bars,
    policy: Bars,
    exposure: Bars,
}

fn pictures(o: &Overview) -> Pictures {
    let age = o
        .tokens_by_client_age
        .iter()
        .map(|r| (r.client_id.as_str(), r.age_band.as_str(), r.tokens));
    let risk = o
        .tokens_by_scope_risk
        .iter()
        .map(|r| (r.client_id.as_str(), r.risk.as_str(), r.tokens));
    let daily = o
        .revocations_by_day
        .iter()
        .map(|r| (r.day.as_str(), r.state.as_str(), r.intents));
    let policy = o
        .revocations_by_policy
        .iter()
        .map(|r| (r.policy.as_str(), r.state.as_str(), r.intents));
    let exposure = o.exposure_by_rule.iter().flat_map(|r| {
        [
            (r.policy.as_str(), EXPOSURE[0].name, r.older_than_threshold),
            (r.policy.as_str(), EXPOSURE[1].name, r.matched_by_rule),
        ]
    });
    let mut exposure = Bars::collect(EXPOSURE, false, exposure);
    for (category, rule) in exposure.categories.iter_mut().zip(&o.exposure_by_rule) {
        *category = format!("{} (> {})", rule.policy, rule.older_than);
    }
    Pictures {
        age: Bars::collect(AGE_BANDS, true, age),
        risk: Bars::collect(RISKS, true, risk),
        daily: Bars::collect(OUTCOMES, true, daily),
        policy: Bars::collect(OUTCOMES, true, policy),
        exposure,
    }
}

fn tile(label: &str, value: &str, class: &str) -> Markup {
    html! {
        div class={ "tile " (class) } {
            div.value { (value) }
            div.label { (label) }
        }
    }
}

fn summary(o: &Overview) -> Markup {
    let active: i64 = o.tokens_by_client_age.iter().map(|r| r.tokens).sum();
    let revoked = o.tokens_revoked;
    let problems = o.revocation_problems.len() + o.offboarding_problems.len();
    let (audit, audit_class) = if o.audit.verified {
        ("verifies", "good")
    } else {
        ("BROKEN", "bad")
    };
    let problem_class = if problems == 0 { "good" } else { "bad" };
    html! {
        div.tiles {
            (tile("active tokens", &active.to_string(), ""))
            (tile("tokens revoked", &revoked.to_string(), ""))
            (tile("open problems", &problems.to_string(), problem_class))
            (tile("audit chain", audit, audit_class))
        }
    }
}

/// The whole page.
pub(super) fn render(o: &Overview) -> Result<String, ChartError> {
    let p = pictures(o);
    let svg = [
        draw("tokens by age", &p.age, true, "active tokens")?,
        draw("tokens by scope risk", &p.risk, true, "active tokens")?,
        // Time runs evenly: a column for each day of the window, through the page's own.
        draw(
            "revocations over time",
            &p.daily.every_day(o.since.as_deref(), Some(&o.generated_at)),
            false,
            "revocations",
        )?,
        draw("revocations by rule", &p.policy, true, "revocations")?,
        draw("exposure", &p.exposure, true, "active tokens")?,
    ];
    let window = o.since.as_deref().unwrap_or("the first record");
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "revokd overview, " (o.generated_at) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "revokd overview" }
                    p.when {
                        "Taken " time { (o.generated_at) } ". Tokens as they are now; "
                        "revocations and sweeps since " (window) "."
                    }
                    (summary(o))
                }
                section #tokens {
                    h2 { "Active tokens" }
                    (chart("tokens-by-age", "Active tokens by client and age band",
                        "tokens_by_client_age", &p.age, &svg[0], "client"))
                    (chart("tokens-by-risk",
                        "Active tokens by client and riskiest scope (admin, write, read)",
                        "tokens_by_scope_risk", &p.risk, &svg[1], "client"))
                }
                section #revocations {
                    h2 { "Revocations" }
                    (chart("revocations-over-time",
                        "Revocations by day requested (UTC) and outcome",
                        "revocations_by_day", &p.daily, &svg[2], "day"))
                    (chart("revocations-by-policy", "Revocations by rule and outcome",
                        "revocations_by_policy", &p.policy, &svg[3], "rule"))
                }
                section #exposure {
                    h2 { "Exposure" }
                    p.note {
                        "Per rule with older_than: active tokens older than its threshold, and "
                        "those the whole rule matches (exempt, flagged, planned in dry-run, or "
                        "not revoked yet)."
                    }
                    (chart("exposure", "Active tokens past each rule's age threshold",
                        "exposure_by_rule", &p.exposure, &svg[4], "rule"))
                }
                (problems::section(o))
                footer {
                    h2 { "Sources" }
                    p.note {
                        "Every figure comes from a view of the revokd database; query it with "
                        code { "sqlite3" } " to check a number."
                    }
                    ol.sources {
                        @for (i, (key, view)) in SOURCES.iter().enumerate() {
                            li id={ "source-" (i + 1) } {
                                code { (key) } ": " (view)
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page.into_string())
}
