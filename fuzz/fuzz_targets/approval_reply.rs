#![no_main]
//! `cargo fuzz run approval_reply`: see `larder::fuzzing::approval_reply`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::fuzzing::approval_reply(data));
