#![no_main]
//! `cargo fuzz run config`: see `larder::fuzzing::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::fuzzing::config(data));
