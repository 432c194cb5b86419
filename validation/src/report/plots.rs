//! Plots (plotters), each written as SVG and PNG from the same description.
//!
//! PNG text is rasterised with the embedded DejaVu Sans font (Bitstream Vera licence, see
//! `fonts/DejaVu-LICENSE.txt`), registered once with plotters' `ab_glyph` backend.

use crate::io::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The embedded font is valid by construction (tested); ignore the impossible error.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// Solid line.
    Line,
    /// Dashed line (drawn as short segments).
    Dashed,
    /// Filled circles.
    Points,
    /// The series' `label` written as text beside each of its points (no legend entry):
    /// names points, e.g. by architecture.
    Annotation,
}

/// A tick label for `v` on an axis spanning `range`: as few digits as the range needs,
/// no trailing zeros, no "-0", scientific notation (`1.5e-05`) for very large or small
/// values.
pub fn tick_label(v: f64, range: f64) -> String {
    let range = if range.is_finite() && range > 0.0 {
        range
    } else {
        1.0
    };
    if v.abs() < 1e-9 * range {
        return "0".into();
    }
    let mag = v.abs().max(range);
    if !(1e-4..1e5).contains(&mag) {
        let s = format!("{v:.2e}");
        return match s.split_once('e') {
            Some((m, e)) => {
                let m = if m.contains('.') {
                    m.trim_end_matches('0').trim_end_matches('.')
                } else {
                    m
                };
                let e: i32 = e.parse().unwrap_or(0);
                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            }
            None => s,
        };
    }
    let decimals = (2.0 - range.log10().floor()).clamp(0.0, 8.0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// One data series.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label (empty: no legend entry).
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
    /// Colour index into the palette.
    pub color: usize,
}

/// A chart: series plus optional histogram bars `(x0, x1, height)`.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Series.
    pub series: Vec<Series>,
    /// Histogram bars.
    pub bars: Vec<(f64, f64, f64)>,
}

/// Colour of palette entry `i`.
pub fn palette(i: usize) -> RGBColor {
    const P: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn bounds(chart: &Chart) -> ((f64, f64), (f64, f64)) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for s in &chart.series {
        for &(x, y) in &s.points {
            if x.is_finite() && y.is_finite() {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    for &(a, b, h) in &chart.bars {
        xs.extend([a, b]);
        ys.extend([0.0, h]);
    }
    let mm = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() || !hi.is_finite() {
            (0.0, 1.0)
        } else if hi - lo < 1e-12 * (1.0 + hi.abs()) {
            (lo - 0.5, hi + 0.5)
        } else {
            let pad = 0.05 * (hi - lo);
            (lo - pad, hi + pad)
        }
    };
    (mm(&xs), mm(&ys))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String> {
    root.fill(&WHITE).map_err(e2s)?;
    let ((x0, x1), (y0, y1)) = bounds(chart);
    let mut c = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(76)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e2s)?;
    let (xr, yr) = (x1 - x0, y1 - y0);
    let x_fmt = move |v: &f64| tick_label(*v, xr);
    // Histogram counts are integers: integer ticks only.
    let counts = !chart.bars.is_empty();
    let y_fmt = move |v: &f64| {
        if counts && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            tick_label(*v, yr)
        }
    };
    let y_labels = if counts {
        ((y1.floor() as usize) + 1).clamp(2, 11)
    } else {
        10
    };
    c.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_labels(y_labels)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(e2s)?;
    for &(a, b, h) in &chart.bars {
        c.draw_series(std::iter::once(Rectangle::new(
            [(a, 0.0), (b, h)],
            palette(0).mix(0.5).filled(),
        )))
        .map_err(e2s)?;
    }
    let mut legend = false;
    for s in &chart.series {
        let col = palette(s.color);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let anno = match s.style {
            Style::Line => c
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))
                .map_err(e2s)?,
            Style::Dashed => c
                .draw_series(
                    pts.windows(2)
                        .enumerate()
                        .filter(|(i, _)| i % 2 == 0)
                        .map(|(_, w)| PathElement::new(vec![w[0], w[1]], col.stroke_width(2))),
                )
                .map_err(e2s)?,
            Style::Points => c
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, col.filled())))
                .map_err(e2s)?,
            Style::Annotation => {
                let text = s.label.clone();
                c.draw_series(pts.iter().map(|&p| {
                    EmptyElement::at(p)
                        + Text::new(
                            text.clone(),
                            (8, -8),
                            ("sans-serif", 14).into_font().color(&col),
                        )
                }))
                .map_err(e2s)?;
                continue;
            }
        };
        if !s.label.is_empty() {
            legend = true;
            anno.label(s.label.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2))
            });
        }
    }
    if legend {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(e2s)?;
    }
    root.present().map_err(e2s)?;
    Ok(())
}

/// Writes `<dir>/<name>.svg` and `<dir>/<name>.png`; returns the two file names.
///
/// Both are drawn in memory and written with [`crate::io::write_atomic`], so an interruption
/// or a full disk leaves the previous plot or none, never a partial one.
pub fn render(dir: &Path, name: &str, chart: &Chart) -> Result<Vec<String>, String> {
    register_font();
    let svg = format!("{name}.svg");
    let png = format!("{name}.png");
    let (w, h) = (800u32, 560u32);
    let mut text = String::new();
    draw(
        SVGBackend::with_string(&mut text, (w, h)).into_drawing_area(),
        chart,
    )?;
    write_atomic(&dir.join(&svg), text.as_bytes()).map_err(e2s)?;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    draw(
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        chart,
    )?;
    write_atomic(&dir.join(&png), &encode_png(&rgb, w, h)?).map_err(e2s)?;
    Ok(vec![svg, png])
}

/// An 8-bit RGB image as PNG bytes, encoded with the settings plotters' own file output uses
/// (the `image` crate's defaults: fast compression, adaptive filtering), so the bytes are
/// those it wrote.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::FilterType::Sub);
    enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = enc.write_header().map_err(e2s)?;
    writer.write_image_data(rgb).map_err(e2s)?;
    writer.finish().map_err(e2s)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short_and_never_negative_zero() {
        assert_eq!(tick_label(1000.0, 5000.0), "1000");
        assert_eq!(tick_label(-0.0, 1.0), "0");
        assert_eq!(tick_label(-1e-17, 1.0), "0");
        assert_eq!(tick_label(0.25, 1.0), "0.25");
        assert_eq!(tick_label(0.5, 3.0), "0.5");
        assert_eq!(tick_label(1.5e-5, 2e-5), "1.5e-05");
        assert_eq!(tick_label(2.0e6, 1e6), "2e+06");
        assert_eq!(tick_label(0.3333333, 0.1), "0.333");
    }

    #[test]
    fn renders_svg_and_png_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let chart = Chart {
            title: "test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![
                Series {
                    label: "line".into(),
                    points: vec![(0.0, 0.0), (1.0, 1.0), (2.0, 0.5)],
                    style: Style::Line,
                    color: 0,
                },
                Series {
                    label: String::new(),
                    points: vec![(0.0, 1.0), (1.0, 0.0), (2.0, 1.0)],
                    style: Style::Dashed,
                    color: 1,
                },
            ],
            bars: vec![(0.0, 1.0, 0.3)],
        };
        let files = render(dir.path(), "t", &chart).unwrap();
        assert_eq!(files.len(), 2);
        let svg = std::fs::read_to_string(dir.path().join("t.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("test"));
        let png = std::fs::read(dir.path().join("t.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
