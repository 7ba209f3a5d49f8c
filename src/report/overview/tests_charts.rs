//! The charts: one `<rect>` per positive value, escaped and shortened labels, emptiness, and
//! how far back a window widens the chart by days.

use super::*;

const TWO: &[Series] = &[
    Series {
        name: "a",
        color: "#112233",
    },
    Series {
        name: "b",
        color: "#445566",
    },
];

fn rects(svg: &str) -> usize {
    svg.matches("<rect").count()
}

#[test]
fn every_positive_value_is_one_bar_and_nothing_else_is_a_rect() {
    let bars = Bars::collect(
        TWO,
        true,
        [
            ("x", "a", 3),
            ("x", "b", 2),
            ("y", "b", 0),
            ("y", "a", 1),
            ("z", "c", 9),
        ],
    );
    assert_eq!(bars.categories, ["x", "y"]);
    assert_eq!(bars.values, [vec![3, 2], vec![1, 0]]);
    let svg = horizontal("test", &bars, "tokens").unwrap();
    assert_eq!(rects(&svg), 3, "{svg}");
    assert!(svg.contains("#112233") || svg.contains("#112233".to_uppercase().as_str()));
    let grouped = Bars {
        stacked: false,
        ..bars
    };
    assert_eq!(rects(&vertical("test", &grouped, "tokens").unwrap()), 3);
}

#[test]
fn labels_are_escaped_and_long_ones_shortened() {
    let bars = Bars::collect(TWO, true, [("<b>&\"rule\"</b>", "a", 1)]);
    let svg = horizontal("test", &bars, "n").unwrap();
    assert!(!svg.contains("<b>"), "{svg}");
    assert!(svg.contains("&lt;b&gt;&amp;"), "{svg}");
    assert_eq!(shorten(&"x".repeat(40)).chars().count(), 32);
}

#[test]
fn nothing_positive_is_empty() {
    assert!(Bars::collect(TWO, true, [("x", "a", 0)]).is_empty());
    assert!(!Bars::collect(TWO, true, [("x", "a", 1)]).is_empty());
}

/// `--since` far back widens the chart by at most [`MAX_DAYS_BEFORE`] before its end; the
/// days the rows hold are always drawn.
#[test]
fn a_window_far_back_adds_at_most_two_years_of_empty_days() {
    let wide = Bars::collect(TWO, true, []).every_day(Some("0001-01-01"), Some("2026-12-03"));
    assert_eq!(wide.categories.len(), 732);
    assert_eq!(
        wide.categories.last().map(String::as_str),
        Some("2026-12-03")
    );
    let old = Bars::collect(TWO, true, [("2020-01-02", "a", 1)]);
    let drawn = old.every_day(Some("0001-01-01"), Some("2026-12-03"));
    assert_eq!(
        drawn.categories.first().map(String::as_str),
        Some("2020-01-02")
    );
    let near = old.every_day(Some("2019-12-30"), Some("2020-01-03"));
    assert_eq!(near.categories.len(), 5);
    assert_eq!(near.values[3], vec![1, 0]);
}
