#![no_main]
//! `cargo fuzz run config`: see `larder::tools::fuzzing::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::config(data));
