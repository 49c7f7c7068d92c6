#![no_main]
//! `cargo fuzz run adapters`: see `larder::tools::fuzzing::adapters`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::adapters(data));
