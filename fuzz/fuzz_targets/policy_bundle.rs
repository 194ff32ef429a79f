//! Policy bundles from arbitrary TOML: loading never panics (a bad bundle
//! is an error, and the reviewer keeps its active bundle).
#![no_main]

use generec_trust::bundle::Bundle;
use generec_trust::checks::CompileEnv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Bundles are read by admins, but a reload must fail closed, not panic.
    if text.len() > 64 * 1024 {
        return;
    }
    let env = CompileEnv {
        data_dir: std::path::PathBuf::from("/nonexistent"),
    };
    let _ = Bundle::parse(text, "fuzz", &env);
});
