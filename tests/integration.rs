//! Integration tests: the real `larder` binary (or the real daemon in
//! process, for simulated time) against a real mosquitto started on a free
//! port. One test binary; one module per topic.

mod support;

mod attacks;
mod broker_security;
mod cli;
mod consent;
mod demo;
mod devices;
mod end_to_end;
#[cfg(feature = "failpoints")]
mod failpoints;
mod faults;
mod forget;
mod fuzz_corpus;
mod homeassistant;
mod hostile;
mod layout;
mod privacy;
mod restart;
mod restocking;
