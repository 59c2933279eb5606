//! `chart.svg`: the results as a grouped bar chart, log scale.
//!
//! Owns [`write_svg`]: one group per metric, one bar per mode (colours
//! fixed per mode), the y axis TSC ticks per operation on a log scale so
//! a 30-tick call and a 10^8-tick program share one picture. Drawn with
//! `plotters`' SVG backend only (its built-in text metrics, no font files).

use super::report::Results;
use super::{Mode, METRICS};
use plotters::prelude::*;
use std::path::Path;

/// One colour per mode, in [`Mode::ALL`] order.
const COLORS: [RGBColor; 5] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0x66, 0xa6, 0x1e),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0xe7, 0xb4, 0x1b),
];

/// Writes the chart to `path`.
pub fn write_svg(path: &Path, results: &Results) -> Result<(), String> {
    draw(path, results).map_err(|e| format!("drawing {}: {e}", path.display()))
}

fn draw(path: &Path, results: &Results) -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<&str> = METRICS
        .iter()
        .map(|m| m.name)
        .filter(|name| {
            Mode::ALL
                .iter()
                .any(|&mode| results.ticks(name, mode).is_some())
        })
        .collect();
    let values: Vec<f64> = names
        .iter()
        .flat_map(|name| Mode::ALL.map(|mode| results.ticks(name, mode)))
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    let (low, high) = if values.is_empty() {
        (1.0, 10.0)
    } else {
        (low / 2.0, high * 2.0)
    };
    let groups = names.len().max(1);

    let root = SVGBackend::new(path, (1400, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let unit = if results.machine.counts_instructions() {
        "guest instructions (TSC ticks under TCG icount)"
    } else {
        "TSC ticks"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Synthesis vs Linux: cost per operation (log scale)",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(150)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..groups as f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| short_number(*v))
        .y_desc(format!("per operation, {unit}"))
        .draw()?;
    // Metric names under their groups, turned to read upwards (plotters
    // places axis labels only at its own tick positions).
    let label_style = ("sans-serif", 14)
        .into_font()
        .transform(FontTransform::Rotate90)
        .color(&BLACK);
    for (group, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(group as f64 + 0.5, low));
        root.draw(&Text::new(
            name.to_string(),
            (x - 7, y + 8),
            label_style.clone(),
        ))?;
    }
    let width = 0.8 / Mode::ALL.len() as f64;
    for (slot, (&mode, color)) in Mode::ALL.iter().zip(COLORS).enumerate() {
        let bars = names.iter().enumerate().filter_map(|(group, name)| {
            let value = results.ticks(name, mode).filter(|v| *v > 0.0)?;
            let left = group as f64 + 0.1 + slot as f64 * width;
            Some(Rectangle::new(
                [(left, low), (left + width, value)],
                color.filled(),
            ))
        });
        chart
            .draw_series(bars)?
            .label(mode.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// `1`, `10`, `1k`, `10M`, …: axis labels on a log scale.
fn short_number(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "G"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = format!("{scaled:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::short_number;

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short_number(10.0), "10");
        assert_eq!(short_number(2500.0), "2.5k");
        assert_eq!(short_number(100_000_000.0), "100M");
        assert_eq!(short_number(0.5), "0.5");
    }
}
