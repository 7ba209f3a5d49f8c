//! The overview's "revocations over time" chart runs time evenly: a column for every day of
//! the window through the page's own, so days without a revocation stay on the axis and a
//! quiet month is not drawn as one column beside a busy day.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use revokd::report::overview;

use crate::seed;

/// Plotters' SVG is this wide; the plot within it is narrower still.
const SVG_WIDTH: f64 = 640.0;

/// The `width` of every `<rect` (the bars) of the chart `name` in `html`.
fn bar_widths(html: &str, name: &str) -> Vec<f64> {
    let start = html
        .find(&format!("data-chart=\"{name}\""))
        .expect("the chart is on the page");
    let end = html[start..].find("</figure>").expect("its end") + start;
    html[start..end]
        .split("<rect")
        .skip(1)
        .map(|rect| {
            let width = rect.split("width=\"").nth(1).expect("a width");
            width[..width.find('"').expect("quoted")]
                .parse()
                .expect("a number")
        })
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn revocations_over_time_keep_a_column_for_every_quiet_day(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let o = overview::build(&store, &seed::config(), None, seed::now())
        .await
        .expect("the overview");
    let days: BTreeSet<NaiveDate> = (o.revocations_by_day.iter())
        .map(|r| r.day.parse().expect("a day"))
        .collect();
    let first = *days.first().expect("the seed revokes");
    let columns = (seed::now().date_naive() - first).num_days() + 1;
    assert!(
        columns > 4 * days.len() as i64,
        "the seed leaves quiet days: {days:?}"
    );

    let html = overview::to_html(&o).expect("the page");

    let widths = bar_widths(&html, "revocations-over-time");
    assert!(!widths.is_empty());
    // Each bar stands in its own day's slot, one of `columns` across the plot.
    let slot = SVG_WIDTH / columns as f64;
    assert!(
        widths.iter().all(|w| *w <= slot),
        "bars {widths:?} wider than a day's slot ({slot:.1} px of {columns} days)"
    );
}
