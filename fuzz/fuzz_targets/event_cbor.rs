#![no_main]
//! `cargo fuzz run event_cbor`: see `larder::tools::fuzzing::event_cbor`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::event_cbor(data));
