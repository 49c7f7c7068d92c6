//! Unit tests of the adapters, one file per ecosystem plus robustness,
//! the pipeline and `describe`; the devices and recorded fixtures they
//! share live here.

use super::*;
use crate::config::{FieldSpec, Unit};
use crate::core::signals::{ScaleParams, WasherParams};

mod describe;
mod esphome;
mod homeconnect;
mod json_path;
mod pipeline;
mod robustness;
mod shelly;
mod tasmota;
mod zigbee2mqtt;

fn device(format: PayloadFormat) -> Device {
    Device {
        id: "d".into(),
        topic: "t".into(),
        format,
        scale: None,
        washer: None,
        reading: None,
        channel: 0,
    }
}

fn washer(format: PayloadFormat) -> Device {
    Device {
        washer: Some(WasherParams {
            dose: 75.0,
            ..WasherParams::default()
        }),
        ..device(format)
    }
}

fn scale(format: PayloadFormat) -> Device {
    Device {
        scale: Some(ScaleParams::default()),
        ..device(format)
    }
}

fn fixture(name: &str) -> &'static [u8] {
    match name {
        "z2m-plug" => include_bytes!("../../../../tests/data/devices/z2m-ts011f-plug.json"),
        "z2m-plug-off" => include_bytes!("../../../../tests/data/devices/z2m-ts011f-plug-off.json"),
        "z2m-contact" => include_bytes!("../../../../tests/data/devices/z2m-contact.json"),
        "z2m-temperature" => include_bytes!("../../../../tests/data/devices/z2m-temperature.json"),
        "tasmota-energy" => include_bytes!("../../../../tests/data/devices/tasmota-energy.json"),
        "tasmota-hx711" => include_bytes!("../../../../tests/data/devices/tasmota-hx711.json"),
        "tasmota-hx711-old" => {
            include_bytes!("../../../../tests/data/devices/tasmota-hx711-no-absraw.json")
        }
        "shelly-status" => {
            include_bytes!("../../../../tests/data/devices/shelly-status-switch0.json")
        }
        "shelly-delta" => include_bytes!("../../../../tests/data/devices/shelly-notifystatus.json"),
        "shelly-delta-energy" => {
            include_bytes!("../../../../tests/data/devices/shelly-notifystatus-energy.json")
        }
        "esphome" => include_bytes!("../../../../tests/data/devices/esphome-weight.txt"),
        "hc-sse" => {
            include_bytes!("../../../../tests/data/devices/homeconnect-sse-idos1-poor.json")
        }
        "hc-finished" => {
            include_bytes!("../../../../tests/data/devices/homeconnect-sse-program-finished.json")
        }
        "hc-hcpy" => include_bytes!("../../../../tests/data/devices/homeconnect-hcpy.json"),
        "generic" => include_bytes!("../../../../tests/data/devices/generic-scale.json"),
        other => panic!("no fixture {other}"),
    }
}

fn signals(d: &Device, topic: &str, name: &str) -> Vec<Signal> {
    decode(d, topic, fixture(name)).unwrap().signals
}
