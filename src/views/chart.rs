//! A bar chart drawn on the server as inline SVG (no chart library): the geometry here, the
//! markup in templates/chart.html. Colours come from the stylesheet's variables, so it reads in
//! light and dark; a table next to it carries the same numbers for screen readers.

/// The drawing area, in SVG user units (the SVG scales to its container's width).
pub const WIDTH: i64 = 600;
pub const HEIGHT: i64 = 200;
/// Room below the bars for the day labels.
const AXIS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub x: i64,
    pub width: i64,
    /// Shown under the bar (every few bars): "05-12".
    pub label: String,
    pub show_label: bool,
    /// Where the label is anchored (`middle`; `end` at the right edge, so it is not cut off).
    pub label_x: i64,
    pub label_anchor: &'static str,
    /// The bar's parts, bottom up: one per series.
    pub segments: Vec<Segment>,
}

/// One series' part of a bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub y: i64,
    pub height: i64,
    /// "chart-bar" (the first series), "chart-bar series-2", …: its colour (static/app.css).
    pub class: String,
    /// The tooltip: "05-12: $3.00", "05-12: PodScribe 4 credits".
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarChart {
    /// The chart's accessible name.
    pub title: String,
    pub bars: Vec<Bar>,
    /// The largest value's label (the top of the scale).
    pub max_label: String,
    pub width: i64,
    pub height: i64,
    /// The y of the baseline.
    pub base: i64,
}

/// One series of a stacked chart: its name (in the legend and tooltips) and a value per bar.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<i64>,
}

/// The CSS class of series `i` (0-based).
pub fn series_class(i: usize) -> String {
    match i {
        0 => "chart-bar".to_string(),
        n => format!("chart-bar series-{}", n + 1),
    }
}

/// Bars for `(label, value, value's label)` in order; negative values draw as empty.
pub fn bar_chart(title: &str, points: &[(String, i64, String)]) -> BarChart {
    let labels: Vec<String> = points.iter().map(|p| p.0.clone()).collect();
    let series = [Series { name: "", values: points.iter().map(|p| p.1).collect() }];
    stacked_chart(title, &labels, &series, |_, _, i| points[i].2.clone())
}

/// Stacked bars, one per label, one segment per series (bottom up, in order); negative values
/// draw as empty. `describe(series name, value, bar index)` labels a segment's tooltip and the
/// tallest bar's total.
pub fn stacked_chart(
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    describe: impl Fn(&str, i64, usize) -> String,
) -> BarChart {
    let base = HEIGHT - AXIS;
    let value = |s: &Series<'_>, i: usize| s.values.get(i).copied().unwrap_or(0).max(0);
    let totals: Vec<i64> = (0..labels.len()).map(|i| series.iter().map(|s| value(s, i)).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let slot = WIDTH / (labels.len().max(1) as i64);
    let every = (labels.len() as i64 / 6).max(1);
    let bars = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mut top = base;
            let segments = series
                .iter()
                .enumerate()
                .map(|(n, s)| {
                    let height = (value(s, i) * (base - 8)) / max;
                    top -= height;
                    Segment {
                        y: top,
                        height,
                        class: series_class(n),
                        title: format!(
                            "{label}: {}",
                            describe(s.name, s.values.get(i).copied().unwrap_or(0), i)
                        ),
                    }
                })
                .collect();
            let (x, width) = (i as i64 * slot + slot / 8, (slot - slot / 4).max(1));
            let last = i + 1 == labels.len();
            Bar {
                x,
                width,
                label_x: if last { WIDTH } else { x + width / 2 },
                label_anchor: if last { "end" } else { "middle" },
                label: label.clone(),
                show_label: (labels.len() as i64 - 1 - i as i64) % every == 0,
                segments,
            }
        })
        .collect();
    let tallest = totals.iter().enumerate().max_by_key(|(_, t)| **t).map(|(i, t)| (i, *t));
    let max_label = tallest.map(|(i, t)| describe("", t, i)).unwrap_or_default();
    BarChart { title: title.to_string(), bars, max_label, width: WIDTH, height: HEIGHT, base }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[i64]) -> Vec<(String, i64, String)> {
        values.iter().enumerate().map(|(i, v)| (format!("d{i}"), *v, format!("${v}"))).collect()
    }

    #[test]
    fn the_tallest_bar_fills_the_chart_and_the_others_scale_to_it() {
        let chart = bar_chart("Revenue", &points(&[0, 50, 100]));
        let heights: Vec<i64> = chart.bars.iter().map(|b| b.segments[0].height).collect();
        assert_eq!(heights, vec![0, (chart.base - 8) / 2, chart.base - 8]);
        assert!(chart.bars.iter().all(|b| b.segments[0].y + b.segments[0].height == chart.base));
        assert_eq!(chart.bars[2].segments[0].title, "d2: $100");
        assert_eq!(chart.max_label, "$100");
    }

    #[test]
    fn bars_stay_inside_the_width_and_nothing_divides_by_zero() {
        let chart = bar_chart("Revenue", &points(&[0; 30]));
        assert!(chart.bars.iter().all(|b| b.segments[0].height == 0 && b.x + b.width <= WIDTH));
        let today = chart.bars.last().unwrap();
        assert!(today.show_label, "today is labelled");
        assert_eq!((today.label_x, today.label_anchor), (WIDTH, "end"), "inside the right edge");
        assert!(bar_chart("Empty", &[]).bars.is_empty());
        assert_eq!(bar_chart("Refunds", &points(&[-5])).bars[0].segments[0].height, 0);
    }

    #[test]
    fn stacked_segments_sit_on_each_other_and_the_tallest_total_fills_the_chart() {
        let labels: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let series = [
            Series { name: "AgentWrite", values: vec![2, 1] },
            Series { name: "PodScribe", values: vec![2, -1] },
        ];
        let chart = stacked_chart("Credits", &labels, &series, |name, v, _| format!("{name} {v}"));
        let full = chart.base - 8;
        let a = &chart.bars[0].segments;
        assert_eq!((a[0].height, a[1].height), (full / 2, full / 2));
        assert_eq!(a[0].y + a[0].height, chart.base);
        assert_eq!(a[1].y + a[1].height, a[0].y, "the second sits on the first");
        assert_eq!((a[0].class.as_str(), a[1].class.as_str()), ("chart-bar", "chart-bar series-2"));
        assert_eq!(chart.bars[1].segments[1].height, 0, "a negative day draws nothing");
        assert_eq!(chart.bars[1].segments[1].title, "b: PodScribe -1", "the tooltip keeps the true number");
        assert_eq!(chart.max_label, " 4");
    }
}
