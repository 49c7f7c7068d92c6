#![no_main]
//! `cargo fuzz run event_cbor`: see `larder::fuzzing::event_cbor`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::fuzzing::event_cbor(data));
