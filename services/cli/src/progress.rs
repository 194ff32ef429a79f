//! Progress bars for long work (`generec load`, `generec eval loop`): drawn
//! on standard error when it is a terminal, silent otherwise (logs and CI
//! keep their plain lines).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `total` units of `unit`, with elapsed time and an
/// estimate of what is left.
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template =
        format!("{{elapsed_precise}} [{{bar:32}}] {{pos}}/{{len}} {unit} (eta {{eta}}) {{msg}}");
    // The template is fixed text with known keys: it always parses.
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bar_counts_what_it_is_given() {
        let b = super::bar(10, "items");
        b.inc(3);
        b.inc(2);
        assert_eq!(b.position(), 5);
        assert_eq!(b.length(), Some(10));
        b.finish_and_clear();
    }
}
