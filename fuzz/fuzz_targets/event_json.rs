#![no_main]
//! `cargo fuzz run event_json`: see `larder::tools::fuzzing::event_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::event_json(data));
