#![no_main]
//! `cargo fuzz run control`: see `larder::fuzzing::control`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::fuzzing::control(data));
