//! Unit tests of the device signal state machines: the washer on recorded
//! power traces, the load cell on weight sequences.

use super::*;

mod scale;
mod washer;

const T0: i64 = 1_772_445_600;
