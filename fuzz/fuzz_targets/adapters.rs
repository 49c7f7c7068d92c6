#![no_main]
//! `cargo fuzz run adapters`: see `larder::fuzzing::adapters`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::fuzzing::adapters(data));
