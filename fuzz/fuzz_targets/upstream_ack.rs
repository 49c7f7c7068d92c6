#![no_main]
//! `cargo fuzz run upstream_ack`: see `larder::fuzzing::upstream_ack`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::fuzzing::upstream_ack(data));
