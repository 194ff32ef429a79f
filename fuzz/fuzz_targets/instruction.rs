//! The instructor on arbitrary instructions: always an interpretation,
//! never a panic, and an excluded topic is never also included.
#![no_main]

use generec_generation::guidance::InterpretInput;
use generec_generation::instructor::{Instructor, InstructorConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 4096 {
        return;
    }
    let instructor = Instructor::new(InstructorConfig::default());
    let out = instructor.interpret(&InterpretInput {
        user_id: "fuzz".into(),
        instruction: text.to_string(),
        ..InterpretInput::default()
    });
    let _ = serde_json::to_string(&out);
});
