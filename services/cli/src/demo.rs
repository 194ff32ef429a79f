//! `generec demo`: a scripted session against a running `generec up`.

use anyhow::Result;

/// Flags of `generec demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// The feed service.
    #[arg(long, default_value = "http://127.0.0.1:50054")]
    pub feed: String,
    /// The trust service.
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    pub trust: String,
    /// The corpus service.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub corpus: String,
}

/// Runs the demo.
pub async fn run(_args: DemoArgs) -> Result<()> {
    anyhow::bail!("not yet written")
}
