//! Starting the real `generec` binary for the crash tests.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Runs `generec ARGS...` and waits for the line `<service> listening on
/// ADDR`; returns the child and `http://ADDR`.
pub fn start<I, S>(service: &str, args: I) -> (Child, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_generec"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start generec");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let prefix = format!("{service} listening on ");
    let addr = loop {
        let line = lines
            .next()
            .expect("generec exited before listening")
            .expect("read stdout");
        if let Some(addr) = line.strip_prefix(&prefix) {
            break addr.to_string();
        }
    };
    // Keep reading what it prints, so a later line never meets a closed
    // pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, format!("http://{addr}"))
}
