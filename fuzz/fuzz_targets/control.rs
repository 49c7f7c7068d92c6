#![no_main]
//! `cargo fuzz run control`: see `larder::tools::fuzzing::control`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::control(data));
