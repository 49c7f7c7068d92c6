#![no_main]
//! `cargo fuzz run approval_reply`: see `larder::tools::fuzzing::approval_reply`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| larder::tools::fuzzing::approval_reply(data));
