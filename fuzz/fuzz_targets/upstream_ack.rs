#![no_main]
//! `cargo fuzz run upstream_ack`: see `larder::tools::fuzzing::upstream_ack`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::upstream_ack(data));
