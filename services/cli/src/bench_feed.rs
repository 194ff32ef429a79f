//! `generec bench feed`: GetFeed against a plain tonic unary call.

use std::path::Path;

use anyhow::Result;

/// Runs the benchmark.
pub async fn bench_feed(_datasets: &Path, _concurrency: Vec<usize>, _requests: usize) -> Result<()> {
    anyhow::bail!("not yet written")
}
