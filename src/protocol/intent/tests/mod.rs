//! Unit tests of the upstream messages and the shop's acknowledgements.

use super::*;
use crate::crypto::keys::SigningKey;
use ciborium::Value;

mod ack;
mod upstream;
