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
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// Shown under the bar (every few bars) and in its tooltip: "05-12".
    pub label: String,
    pub show_label: bool,
    /// "$3.00": the tooltip.
    pub value: String,
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

/// Bars for `(label, value, value's label)` in order; negative values draw as empty.
pub fn bar_chart(title: &str, points: &[(String, i64, String)]) -> BarChart {
    let base = HEIGHT - AXIS;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let slot = WIDTH / (points.len().max(1) as i64);
    let every = (points.len() as i64 / 6).max(1);
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, (label, value, value_label))| {
            let height = (value.max(&0) * (base - 8)) / max;
            Bar {
                x: i as i64 * slot + slot / 8,
                y: base - height,
                width: (slot - slot / 4).max(1),
                height,
                label: label.clone(),
                show_label: (points.len() as i64 - 1 - i as i64) % every == 0,
                value: value_label.clone(),
            }
        })
        .collect();
    let max_label = points.iter().max_by_key(|p| p.1).map(|p| p.2.clone()).unwrap_or_default();
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
        let heights: Vec<i64> = chart.bars.iter().map(|b| b.height).collect();
        assert_eq!(heights, vec![0, (chart.base - 8) / 2, chart.base - 8]);
        assert!(chart.bars.iter().all(|b| b.y + b.height == chart.base));
        assert_eq!(chart.max_label, "$100");
    }

    #[test]
    fn bars_stay_inside_the_width_and_nothing_divides_by_zero() {
        let chart = bar_chart("Revenue", &points(&[0; 30]));
        assert!(chart.bars.iter().all(|b| b.height == 0 && b.x + b.width <= WIDTH));
        assert!(chart.bars.last().unwrap().show_label, "today is labelled");
        assert!(bar_chart("Empty", &[]).bars.is_empty());
        assert_eq!(bar_chart("Refunds", &points(&[-5])).bars[0].height, 0);
    }
}
