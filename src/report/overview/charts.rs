//! The overview's charts: bar charts drawn as inline SVG by plotters' SVG backend. Bars are
//! the only `<rect>` elements of a chart (nothing fills the background), so a reader of the
//! SVG — or a test — can count a chart's marks. Legends are left to the page, in HTML. Pure:
//! numbers in, SVG text out; plotters escapes every label it writes.

use chrono::NaiveDate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One series of a bar chart: its name (the legend's) and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub name: &'static str,
    /// `#rrggbb`.
    pub color: &'static str,
}

/// A bar chart's data: one bar (or group of bars) per category, one value per series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bars {
    pub categories: Vec<String>,
    pub series: &'static [Series],
    /// `values[category][series]`.
    pub values: Vec<Vec<i64>>,
    /// Series stacked into one bar per category, or side by side.
    pub stacked: bool,
}

/// How far before its end a window's start widens the chart by days (two years): `--since`
/// far back would otherwise ask for a column per day since year 1.
pub const MAX_DAYS_BEFORE: u64 = 731;

impl Bars {
    /// Collects `rows` of (category, series name, value) into bars, categories in first-seen
    /// order; values of series not in `series` are left out.
    pub fn collect<'a>(
        series: &'static [Series],
        stacked: bool,
        rows: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
    ) -> Bars {
        let mut bars = Bars {
            categories: Vec::new(),
            series,
            values: Vec::new(),
            stacked,
        };
        for (category, name, value) in rows {
            let Some(s) = series.iter().position(|s| s.name == name) else {
                continue;
            };
            let c = match bars.categories.iter().position(|c| c == category) {
                Some(c) => c,
                None => {
                    bars.categories.push(category.to_owned());
                    bars.values.push(vec![0; series.len()]);
                    bars.categories.len() - 1
                }
            };
            bars.values[c][s] += value;
        }
        bars
    }

    /// The same bars with a column for every day, for categories that are UTC days
    /// (`YYYY-MM-DD`): from the earlier of the first category and `from` (but `from` no more
    /// than [`MAX_DAYS_BEFORE`] days before the end) through the later of the last and
    /// `through`, a day without a row holding zeros, so a quiet month stays as wide as a busy
    /// one. Categories that are not days are left as they are.
    pub fn every_day(&self, from: Option<&str>, through: Option<&str>) -> Bars {
        let parse = |d: &str| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok();
        let Some(days) = self
            .categories
            .iter()
            .map(|c| parse(c))
            .collect::<Option<Vec<NaiveDate>>>()
        else {
            return self.clone();
        };
        let Some(last) = days.iter().copied().chain(through.and_then(parse)).max() else {
            return self.clone();
        };
        let from = from
            .and_then(parse)
            .map(|f| f.max(last - chrono::Days::new(MAX_DAYS_BEFORE)));
        let Some(first) = days.iter().copied().chain(from).min() else {
            return self.clone();
        };
        let mut bars = Bars {
            categories: Vec::new(),
            values: Vec::new(),
            ..self.clone()
        };
        for day in first.iter_days().take_while(|d| *d <= last) {
            bars.categories.push(day.format("%Y-%m-%d").to_string());
            bars.values.push(match days.iter().position(|d| *d == day) {
                Some(c) => self.values[c].clone(),
                None => vec![0; self.series.len()],
            });
        }
        bars
    }

    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.values.iter().flatten().all(|v| *v <= 0)
    }

    fn max(&self) -> i64 {
        self.values
            .iter()
            .map(|row| {
                if self.stacked {
                    row.iter().sum()
                } else {
                    row.iter().copied().max().unwrap_or(0)
                }
            })
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// Each bar segment: (category, series, from, to, slot, slots) with slot/slots placing
    /// grouped bars side by side within the category.
    fn segments(&self) -> Vec<(usize, usize, i64, i64, usize, usize)> {
        let mut out = Vec::new();
        let slots = if self.stacked { 1 } else { self.series.len() };
        for (c, row) in self.values.iter().enumerate() {
            let mut base = 0;
            for (s, v) in row.iter().enumerate() {
                if *v <= 0 {
                    continue;
                }
                if self.stacked {
                    out.push((c, s, base, base + v, 0, 1));
                    base += v;
                } else {
                    out.push((c, s, 0, *v, s, slots));
                }
            }
        }
        out
    }
}

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the {chart} chart: {message}")]
pub struct ChartError {
    chart: &'static str,
    message: String,
}

fn color(hex: &str) -> RGBColor {
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(byte(1), byte(3), byte(5))
}

const WIDTH: u32 = 640;
const ROW: u32 = 26;
const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);

fn label_width(categories: &[String]) -> u32 {
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4);
    u32::try_from(longest * 7 + 16)
        .unwrap_or(200)
        .clamp(60, 240)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 32;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX - 1).collect();
        format!("{head}…")
    }
}

/// Horizontal bars, one row per category (the first on top); the x axis counts `unit`.
pub fn horizontal(name: &'static str, bars: &Bars, unit: &str) -> Result<String, ChartError> {
    let fail = |e: &dyn std::fmt::Display| ChartError {
        chart: name,
        message: e.to_string(),
    };
    let n = bars.categories.len().max(1);
    let rows = u32::try_from(n).unwrap_or(u32::MAX / ROW);
    // The plot area is exactly one ROW per category: margin_top + x label area = 42.
    let height = 42 + ROW * rows;
    let labels: Vec<String> = bars.categories.iter().map(|c| shorten(c)).collect();
    let label_area = label_width(&labels);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin_right(16)
            .margin_top(6)
            .x_label_area_size(36)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0f64..bars.max() as f64 * 1.05, 0f64..n as f64)
            .map_err(|e| fail(&e))?;
        let count_label = |v: &f64| format!("{v:.0}");
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(6)
            .x_label_formatter(&count_label)
            .x_desc(unit)
            .axis_style(AXIS)
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
            .label_style(label_font())
            .draw()
            .map_err(|e| fail(&e))?;
        // The first category on top: category c is the row from n-c-1 to n-c.
        for (c, label) in labels.iter().enumerate() {
            let (_, y) = chart.backend_coord(&(0.0, (n - c) as f64 - 0.5));
            let at = (i32::try_from(label_area).unwrap_or(0) - 8, y);
            let style = label_font().pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(label.as_str(), at, style))
                .map_err(|e| fail(&e))?;
        }
        let rects = bars
            .segments()
            .into_iter()
            .map(|(c, s, from, to, slot, slots)| {
                let row = (n - c) as f64;
                let (top, bottom) = band(slot, slots);
                let mut rect = Rectangle::new(
                    [(from as f64, row), (to as f64, row - 1.0)],
                    color(bars.series[s].color).filled(),
                );
                rect.set_margin(top, bottom, 0, 0);
                rect
            });
        chart.draw_series(rects).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

/// Vertical bars, one column per category, left to right; the y axis counts `unit`.
pub fn vertical(name: &'static str, bars: &Bars, unit: &str) -> Result<String, ChartError> {
    let fail = |e: &dyn std::fmt::Display| ChartError {
        chart: name,
        message: e.to_string(),
    };
    let n = bars.categories.len().max(1);
    let labels: Vec<String> = bars.categories.iter().map(|c| shorten(c)).collect();
    // Label at most ~8 columns so the dates stay legible.
    let every = n.div_ceil(8);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 260)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin_right(16)
            .margin_top(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0f64..bars.max() as f64 * 1.05)
            .map_err(|e| fail(&e))?;
        let count_label = |v: &f64| format!("{v:.0}");
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(6)
            .y_label_formatter(&count_label)
            .y_desc(unit)
            .axis_style(AXIS)
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
            .label_style(label_font())
            .draw()
            .map_err(|e| fail(&e))?;
        for (c, label) in labels.iter().enumerate().filter(|(c, _)| c % every == 0) {
            let (x, y) = chart.backend_coord(&(c as f64 + 0.5, 0.0));
            let style = label_font().pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(label.as_str(), (x, y + 8), style))
                .map_err(|e| fail(&e))?;
        }
        let (left_edge, _) = chart.backend_coord(&(0.0, 0.0));
        let (right_edge, _) = chart.backend_coord(&(n as f64, 0.0));
        let span = u32::try_from(right_edge - left_edge).unwrap_or(1);
        let width = (span / u32::try_from(n).unwrap_or(1)).max(1);
        // Columns at most 56 px wide, with a gap of at least a fifth of their slot.
        let side = (width / 10).max(width.saturating_sub(56) / 2);
        let rects = bars
            .segments()
            .into_iter()
            .map(|(c, s, from, to, slot, slots)| {
                let mut rect = Rectangle::new(
                    [(c as f64, to as f64), ((c + 1) as f64, from as f64)],
                    color(bars.series[s].color).filled(),
                );
                let share = (width - 2 * side) / u32::try_from(slots).unwrap_or(1).max(1);
                let left = side + share * u32::try_from(slot).unwrap_or(0);
                let right = width.saturating_sub(left + share);
                rect.set_margin(0, 0, left, right);
                rect
            });
        chart.draw_series(rects).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

fn label_font() -> TextStyle<'static> {
    ("sans-serif", 12).into_font().color(&AXIS)
}

/// Top and bottom margins (pixels) of bar `slot` of `slots` within one row.
fn band(slot: usize, slots: usize) -> (u32, u32) {
    let inner = ROW - 8;
    let slots = u32::try_from(slots).unwrap_or(1).max(1);
    let slot = u32::try_from(slot).unwrap_or(0);
    let each = inner / slots;
    let top = 4 + each * slot;
    (top, ROW.saturating_sub(top + each))
}

#[cfg(test)]
#[path = "tests_charts.rs"]
mod tests;
