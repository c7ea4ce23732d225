//! Bar-chart geometry for the statistics on `/admin`: turns a series of
//! labelled numbers into coordinates that `templates/admin/stats.html`
//! writes out as SVG attributes. PURE — numbers in, numbers and short
//! labels out; no markup is built here, so every label reaches the page
//! through askama's escaping. Depends on nothing in the crate.
//!
//! Two layouts: [`columns`] (vertical bars with a value axis, for a time
//! series) and [`rows`] (horizontal bars with their label above, for
//! named items whose names may be long). Scales start at zero and end at
//! a "nice" whole number (1, 2 or 5 × 10ⁿ steps), so the series here —
//! counts and percentages — get whole-number ticks.

/// One labelled number of a series; `shown` is how the value is written
/// next to its bar (e.g. `25%`, or `—` when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

impl Point {
    pub fn new(label: impl Into<String>, value: f64, shown: impl Into<String>) -> Self {
        Point {
            label: label.into(),
            value,
            shown: shown.into(),
        }
    }

    /// A count, shown as itself.
    pub fn count(label: impl Into<String>, n: i64) -> Self {
        // Counts of bookings stay far below 2^53: exact as f64.
        let value = n as f64;
        Point::new(label, value, n.to_string())
    }
}

/// A value-axis mark: where it goes and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The y (columns) or x (rows) coordinate of the mark.
    pub at: f64,
    pub label: String,
}

/// The value axis: from 0 to `max` in steps of `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    pub max: f64,
    pub step: f64,
}

impl Axis {
    /// The smallest nice axis holding `max` (and at least `floor`): about
    /// four steps of 1, 2 or 5 × 10ⁿ, never less than 1 apart. An empty
    /// or all-zero series gets the axis 0–1, so nothing divides by zero.
    pub fn fit(max: f64, floor: f64) -> Self {
        let top = clean(max).max(clean(floor));
        if top <= 0.0 {
            return Axis {
                max: 1.0,
                step: 1.0,
            };
        }
        let raw = top / 4.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let norm = raw / magnitude;
        let nice = if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
        let step = (nice * magnitude).max(1.0);
        Axis {
            max: (top / step).ceil() * step,
            step,
        }
    }

    /// The marks 0, step, 2·step, … max.
    fn values(&self) -> Vec<f64> {
        let n = (self.max / self.step).round();
        // `fit` keeps n small (about four); the cap guards odd inputs.
        let n = if n.is_finite() {
            n.clamp(1.0, 20.0)
        } else {
            1.0
        };
        let mut out = Vec::new();
        let mut i = 0.0;
        while i <= n {
            out.push(i * self.step);
            i += 1.0;
        }
        out
    }

    /// `value` as a fraction of the axis, in [0, 1].
    fn fraction(&self, value: f64) -> f64 {
        (clean(value) / self.max).clamp(0.0, 1.0)
    }
}

/// One vertical bar of a [`ColumnChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Under the bar, centred at `center`.
    pub label: String,
    pub center: f64,
    /// Above the bar, at `value_y`.
    pub shown: String,
    pub value_y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnChart {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    /// The y of the zero line.
    pub baseline: f64,
    /// The y of the category labels.
    pub label_y: f64,
    /// Where tick labels end (they are right-aligned left of the plot).
    pub tick_x: f64,
    pub ticks: Vec<Tick>,
    pub columns: Vec<Column>,
}

const COL_WIDTH: f64 = 640.0;
const COL_HEIGHT: f64 = 240.0;
const COL_LEFT: f64 = 40.0;
const COL_RIGHT: f64 = 8.0;
const COL_TOP: f64 = 22.0;
const COL_BOTTOM: f64 = 30.0;
/// Category labels under columns are short (a date): longer ones are cut.
const COL_LABEL_CHARS: usize = 8;

/// Vertical bars, one per point, in order, over a value axis.
pub fn columns(points: &[Point]) -> ColumnChart {
    let axis = Axis::fit(max_of(points), 0.0);
    let plot_width = COL_WIDTH - COL_LEFT - COL_RIGHT;
    let plot_height = COL_HEIGHT - COL_TOP - COL_BOTTOM;
    let baseline = COL_HEIGHT - COL_BOTTOM;
    let slot = plot_width / count_f64(points.len().max(1));
    let bar = slot * 0.7;
    let columns = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let height = plot_height * axis.fraction(p.value);
            let left = COL_LEFT + slot * count_f64(i);
            Column {
                x: round1(left + (slot - bar) / 2.0),
                y: round1(baseline - height),
                width: round1(bar),
                height: round1(height),
                label: clip(&p.label, COL_LABEL_CHARS),
                center: round1(left + slot / 2.0),
                shown: p.shown.clone(),
                value_y: round1(baseline - height - 6.0),
            }
        })
        .collect();
    let ticks = axis
        .values()
        .into_iter()
        .map(|v| Tick {
            at: round1(baseline - plot_height * axis.fraction(v)),
            label: whole(v),
        })
        .collect();
    ColumnChart {
        width: COL_WIDTH,
        height: COL_HEIGHT,
        plot_left: COL_LEFT,
        plot_right: COL_WIDTH - COL_RIGHT,
        baseline,
        label_y: round1(baseline + 18.0),
        tick_x: COL_LEFT - 6.0,
        ticks,
        columns,
    }
}

/// One horizontal bar of a [`RowChart`], its label above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub label_y: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// After the bar's end.
    pub shown: String,
    pub value_x: f64,
    pub value_y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowChart {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    /// The length of a bar at the top of the scale (a background track).
    pub plot_width: f64,
    pub rows: Vec<Row>,
}

const ROW_WIDTH: f64 = 640.0;
const ROW_PITCH: f64 = 40.0;
const ROW_BAR: f64 = 14.0;
const ROW_LEFT: f64 = 4.0;
/// Room after the longest bar for its value.
const ROW_VALUE_ROOM: f64 = 72.0;
const ROW_LABEL_CHARS: usize = 60;

/// Horizontal bars, one per point, in order; the scale reaches at least
/// `floor` (100 for percentages, so 40% looks like 40% of the way).
pub fn rows(points: &[Point], floor: f64) -> RowChart {
    let axis = Axis::fit(max_of(points), floor);
    let plot_width = ROW_WIDTH - ROW_LEFT - ROW_VALUE_ROOM;
    let rows = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let top = ROW_PITCH * count_f64(i);
            let width = plot_width * axis.fraction(p.value);
            let y = top + 18.0;
            Row {
                label: clip(&p.label, ROW_LABEL_CHARS),
                label_y: round1(top + 13.0),
                y: round1(y),
                width: round1(width),
                height: ROW_BAR,
                shown: p.shown.clone(),
                value_x: round1(ROW_LEFT + width + 6.0),
                value_y: round1(y + ROW_BAR - 2.0),
            }
        })
        .collect();
    RowChart {
        width: ROW_WIDTH,
        height: (ROW_PITCH * count_f64(points.len().max(1))).max(ROW_PITCH),
        plot_left: ROW_LEFT,
        plot_width,
        rows,
    }
}

/// `label` cut to `max` characters, an ellipsis marking the cut.
pub fn clip(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut out: String = label.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Negative, NaN and infinite values draw as zero.
fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

fn max_of(points: &[Point]) -> f64 {
    points.iter().map(|p| clean(p.value)).fold(0.0, f64::max)
}

/// Coordinates to a tenth of a unit: short attributes, no float noise.
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn whole(v: f64) -> String {
    format!("{v:.0}")
}

fn count_f64(n: usize) -> f64 {
    // Bars on a chart number a few dozen at most.
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(values: &[i64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, n)| Point::count(format!("w{i}"), *n))
            .collect()
    }

    #[test]
    fn axis_is_a_nice_whole_number_at_or_above_the_maximum() {
        assert_eq!(
            Axis::fit(7.0, 0.0),
            Axis {
                max: 8.0,
                step: 2.0
            }
        );
        assert_eq!(
            Axis::fit(3.0, 0.0),
            Axis {
                max: 3.0,
                step: 1.0
            }
        );
        assert_eq!(
            Axis::fit(1.0, 0.0),
            Axis {
                max: 1.0,
                step: 1.0
            }
        );
        assert_eq!(
            Axis::fit(37.0, 0.0),
            Axis {
                max: 40.0,
                step: 10.0
            }
        );
        assert_eq!(
            Axis::fit(1234.0, 0.0),
            Axis {
                max: 1500.0,
                step: 500.0
            }
        );
        assert_eq!(
            Axis::fit(40.0, 100.0),
            Axis {
                max: 100.0,
                step: 50.0
            }
        );
        assert_eq!(
            Axis::fit(130.0, 100.0),
            Axis {
                max: 150.0,
                step: 50.0
            }
        );
    }

    #[test]
    fn columns_scale_to_the_axis() {
        let chart = columns(&counts(&[0, 2, 4, 8]));
        let plot = chart.baseline - COL_TOP;
        let h: Vec<f64> = chart.columns.iter().map(|c| c.height).collect();
        assert_eq!(h, [0.0, round1(plot / 4.0), round1(plot / 2.0), plot]);
        for c in &chart.columns {
            // Every bar stands on the baseline.
            assert!((c.y + c.height - chart.baseline).abs() < 0.11, "{c:?}");
            assert!(c.x >= chart.plot_left && c.x + c.width <= chart.plot_right);
        }
        // Bars are in order, left to right, without overlapping.
        for pair in chart.columns.windows(2) {
            assert!(pair[0].x + pair[0].width < pair[1].x);
        }
        let ticks: Vec<&str> = chart.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(ticks, ["0", "2", "4", "6", "8"]);
        assert_eq!(chart.ticks[0].at, chart.baseline);
        assert_eq!(chart.ticks[4].at, COL_TOP);
    }

    #[test]
    fn a_zero_series_draws_flat_bars_and_a_finite_axis() {
        let chart = columns(&counts(&[0, 0, 0]));
        assert!(
            chart
                .columns
                .iter()
                .all(|c| c.height == 0.0 && c.y == chart.baseline)
        );
        assert!(chart.ticks.iter().all(|t| t.at.is_finite()));
        let rows = rows(&counts(&[0, 0]), 0.0);
        assert!(rows.rows.iter().all(|r| r.width == 0.0));
        // Nothing at all still has a size.
        let empty = columns(&[]);
        assert!(empty.columns.is_empty() && empty.width > 0.0 && empty.height > 0.0);
        assert!(super::rows(&[], 100.0).height > 0.0);
    }

    #[test]
    fn odd_values_draw_as_zero() {
        let chart = columns(&[
            Point::new("a", f64::NAN, "?"),
            Point::new("b", -3.0, "-3"),
            Point::new("c", f64::INFINITY, "∞"),
        ]);
        assert!(chart.columns.iter().all(|c| c.height == 0.0));
    }

    #[test]
    fn labels_and_values_are_carried_and_long_labels_cut() {
        let chart = columns(&[Point::count("30 Mar", 3), Point::count("a long label", 1)]);
        assert_eq!(chart.columns[0].label, "30 Mar");
        assert_eq!(chart.columns[0].shown, "3");
        assert_eq!(chart.columns[1].label, "a long …");
        assert_eq!(chart.columns[1].label.chars().count(), COL_LABEL_CHARS);
        assert!(chart.columns[0].value_y < chart.columns[0].y);
        assert!(chart.label_y > chart.baseline);
        // Text is passed through as is: escaping is the template's job.
        let r = rows(&[Point::new("<b>SQL & more</b>", 40.0, "40%")], 100.0);
        assert_eq!(r.rows[0].label, "<b>SQL & more</b>");
        assert_eq!(clip("ab", 2), "ab");
        assert_eq!(clip("abc", 2), "a…");
    }

    #[test]
    fn rows_use_the_floor_and_stack_downwards() {
        let chart = rows(
            &[
                Point::new("Ada", 25.0, "25%"),
                Point::new("Bo", 100.0, "100%"),
                Point::new("Cy", 0.0, "—"),
            ],
            100.0,
        );
        let full = ROW_WIDTH - ROW_LEFT - ROW_VALUE_ROOM;
        assert_eq!(chart.rows[0].width, round1(full / 4.0));
        assert_eq!(chart.rows[1].width, full);
        assert_eq!(chart.rows[2].width, 0.0);
        assert_eq!(chart.rows[2].shown, "—");
        assert!(chart.rows[0].y < chart.rows[1].y && chart.rows[1].y < chart.rows[2].y);
        assert!(chart.rows[0].label_y < chart.rows[0].y);
        assert!(chart.rows[1].value_x > chart.rows[1].width);
        assert!(
            chart
                .rows
                .last()
                .is_some_and(|r| r.y + r.height <= chart.height)
        );
        // Over 100%, the scale grows so the bar still fits.
        let over = rows(&[Point::new("Ada", 130.0, "130%")], 100.0);
        assert!(over.rows[0].width < full && over.rows[0].width > full * 0.8);
    }
}
