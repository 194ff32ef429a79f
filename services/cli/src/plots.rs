//! PNG charts for reports (`generec eval loop --plots DIR`): lines over a
//! numeric axis, one per series, and stacked shares per group. Text is
//! drawn with DejaVu Sans, read from the system's fonts (Debian's
//! `fonts-dejavu-core`), so nothing is embedded in the binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// Where the font is looked for, first found wins; `GENEREC_FONT` (a .ttf
/// file) comes before these.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const SIZE: (u32, u32) = (960, 560);
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Registers the font once for the process; an error says how to get one.
fn font() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let candidates = std::env::var_os("GENEREC_FONT")
            .map(PathBuf::from)
            .into_iter()
            .chain(FONT_PATHS.iter().map(PathBuf::from));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| format!("{} is not a font plotters can read", path.display()));
            }
        }
        Err(format!(
            "no font for the plots: install DejaVu (`apt-get install fonts-dejavu-core`) or set GENEREC_FONT to a .ttf file; looked in {}",
            FONT_PATHS.join(", ")
        ))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// One named line.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart with a point at each value and a legend; the y axis spans
/// the values with a little room.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<()> {
    font()?;
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if all.is_empty() {
        bail!("{title}: nothing to plot");
    }
    let (x0, x1) = bounds(all.iter().map(|p| p.0), 0.0);
    let (y0, y1) = bounds(all.iter().map(|p| p.1), 0.08);
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| {
            // Whole numbers only: the x axis counts things.
            if (x - x.round()).abs() < 1e-9 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(plot_error)?;
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
            .map_err(plot_error)?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(plot_error)?;
    }
    legend_and_write(&mut chart, &root, path)
}

/// One bar per group, stacked from the shares of its parts (each group's
/// shares are drawn as given, so they should sum to 1).
pub fn stacked_shares(
    path: &Path,
    title: &str,
    y_desc: &str,
    groups: &[String],
    parts: &[String],
    shares: &[Vec<f64>],
) -> Result<()> {
    font()?;
    if groups.is_empty() || shares.len() != groups.len() {
        bail!("{title}: one row of shares per group is needed");
    }
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    // A discrete range is inclusive: n groups are 0..=n-1.
    let n = groups.len() as u32 - 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((0..n).into_segmented(), 0f64..1.05)
        .map_err(plot_error)?;
    let names = groups.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_desc)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 17))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .map_err(plot_error)?;
    for (p, part) in parts.iter().enumerate() {
        let colour = COLOURS[p % COLOURS.len()];
        let bars = shares.iter().enumerate().map(|(g, row)| {
            let below: f64 = row.iter().take(p).sum();
            let share = row.get(p).copied().unwrap_or(0.0);
            let g = g as u32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(g), below),
                    (SegmentValue::Exact(g + 1), below + share),
                ],
                colour.filled(),
            );
            bar.set_margin(0, 0, 40, 40);
            bar
        });
        chart
            .draw_series(bars)
            .map_err(plot_error)?
            .label(part.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], colour.filled()));
    }
    legend_and_write(&mut chart, &root, path)
}

/// Draws the series' legend and writes the file.
fn legend_and_write<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    root: &DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>,
    path: &Path,
) -> Result<()> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present()
        .map_err(plot_error)
        .with_context(|| format!("writing {}", path.display()))
}

/// The range of the values, widened by `pad` of its span (and never empty).
fn bounds(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let span = (hi - lo).max(1e-6);
    let (lo, hi) = (lo - span * pad, hi + span * pad);
    if hi - lo < 1e-3 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written file is a PNG of the stated size (skipped without a
    /// font, which the message of `font()` explains).
    #[test]
    fn charts_are_written_as_png() {
        if font().is_err() {
            eprintln!("note: no DejaVu font; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let line = dir.path().join("line.png");
        lines(
            &line,
            "t",
            "x",
            "y",
            &[
                Series {
                    name: "a".into(),
                    points: vec![(1.0, 2.0), (2.0, 3.0), (3.0, f64::NAN)],
                },
                Series {
                    name: "b".into(),
                    points: vec![(1.0, 1.0), (2.0, 1.5)],
                },
            ],
        )
        .unwrap();
        let bars = dir.path().join("bars.png");
        stacked_shares(
            &bars,
            "t",
            "share",
            &["x".into(), "y".into()],
            &["human".into(), "generated".into()],
            &[vec![1.0, 0.0], vec![0.8, 0.2]],
        )
        .unwrap();
        for path in [line, bars] {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
            // IHDR width and height, big-endian.
            let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            assert_eq!((w, h), SIZE);
        }
        let empty = lines(&dir.path().join("e.png"), "t", "x", "y", &[]);
        assert!(empty.is_err());
    }

    #[test]
    fn bounds_are_never_empty() {
        assert_eq!(bounds([2.0, 2.0].into_iter(), 0.0), (1.5, 2.5));
        let (lo, hi) = bounds([0.0, 10.0].into_iter(), 0.1);
        assert!((lo + 1.0).abs() < 1e-9 && (hi - 11.0).abs() < 1e-9);
    }
}
