//! Checks of `[[devices]]`: ids, exact and distinct topics, the payload
//! format, and the adapter settings (scale, washer, reading, channel)
//! checked against that format. Also used alone by `larder decode`
//! (`Config::parse_device`).

use super::{Check, approvals_prefix};
use crate::config::{Device, FieldSpec, PayloadFormat, Quantity, Unit, Upstream, raw};
use crate::core::signals::{MAX_MEDIAN_OF, ScaleParams, WasherParams};

impl Check {
    /// `[[devices]]`, each checked against the upstream and approval topics.
    pub(super) fn devices(
        &mut self,
        raw: Vec<raw::Device>,
        hub_id: &str,
        up: &Upstream,
    ) -> Vec<Device> {
        let approvals = approvals_prefix(hub_id);
        let mut out = Vec::with_capacity(raw.len());
        for (i, mut d) in raw.into_iter().enumerate() {
            let p = |key: &str| format!("devices[{i}].{key}");
            let id = self.ident(&p("id"), d.id.take(), 64);
            let topic = self.required(&p("topic"), d.topic.take());
            if !topic.trim().is_empty() {
                self.topic(&p("topic"), &topic);
            }
            if topic.starts_with(&approvals) {
                self.problem(
                    p("topic"),
                    format_args!("{topic:?} is inside larder's approval topics ({approvals}/...)"),
                );
            }
            if topic == up.topic || topic == up.ack_topic {
                self.problem(p("topic"), format_args!("{topic:?} is an upstream topic"));
            }
            let format = self.format(&p("format"), d.format.as_deref());
            let device = self.adapter_device_at(&format!("devices[{i}]."), id, topic, format, d);
            out.push(device);
        }
        self.unique("devices", "id", out.iter().map(|d| d.id.as_str()));
        self.unique("devices", "topic", out.iter().map(|d| d.topic.as_str()));
        out
    }

    /// `devices[].format`.
    pub(crate) fn format(&mut self, path: &str, name: Option<&str>) -> PayloadFormat {
        match name {
            None => {
                self.problem(path, "required key is missing");
                PayloadFormat::Json
            }
            Some(name) => match PayloadFormat::from_name(name) {
                Some(format) => format,
                None => {
                    let known: Vec<String> = PayloadFormat::ALL
                        .iter()
                        .map(|f| format!("{:?}", f.name()))
                        .collect();
                    self.problem(
                        path,
                        format_args!(
                            "unknown format {name:?}; expected one of {}",
                            known.join(", ")
                        ),
                    );
                    PayloadFormat::Json
                }
            },
        }
    }

    /// The adapter settings of a device (scale, washer, reading, channel),
    /// checked against its format; key paths start with `prefix`
    /// (`devices[2].`).
    pub(crate) fn adapter_device_at(
        &mut self,
        prefix: &str,
        id: String,
        topic: String,
        format: PayloadFormat,
        d: raw::Device,
    ) -> Device {
        let p = |key: &str| format!("{prefix}{key}");
        let name = format.name();
        let scale = d.scale.map(|s| self.scale(&p("scale"), s));
        let washer = d.washer.map(|w| self.washer(&p("washer"), w));
        if format.is_native() {
            for (key, set) in [
                ("scale", scale.is_some()),
                ("washer", washer.is_some()),
                ("field", d.field.is_some()),
                ("unit", d.unit.is_some()),
                ("factor", d.factor.is_some()),
                ("channel", d.channel.is_some()),
            ] {
                if set {
                    self.problem(
                        p(key),
                        format_args!("only for adapter formats; native {name:?} events carry their own slot and amount"),
                    );
                }
            }
            return Device {
                id,
                topic,
                format,
                scale: None,
                washer: None,
                reading: None,
                channel: 0,
            };
        }
        if scale.is_some() && washer.is_some() {
            self.problem(
                p("washer"),
                "a device is either a scale or a washer plug; configure two devices",
            );
        }
        match format {
            PayloadFormat::Homeconnect if scale.is_some() => self.problem(
                p("scale"),
                "Home Connect reports programme events, not weight",
            ),
            PayloadFormat::Zigbee2mqtt if scale.is_some() => self.problem(
                p("scale"),
                "Zigbee2MQTT has no shelf scale larder knows; use format \"json-path\"",
            ),
            PayloadFormat::Shelly if scale.is_some() => {
                self.problem(p("scale"), "Shelly switches report power, not weight")
            }
            PayloadFormat::Homeconnect => {}
            // `larder decode` may look at a device without processing.
            _ if scale.is_none() && washer.is_none() && !prefix.is_empty() => self.problem(
                prefix.trim_end_matches('.'),
                format_args!(
                    "a {name:?} device needs [devices.scale] (weight) or [devices.washer] (power); nothing else is turned into observations"
                ),
            ),
            _ => {}
        }
        let wants = if scale.is_some() {
            Quantity::Weight
        } else {
            Quantity::Power
        };
        let mut reading = None;
        let reads_a_field = matches!(format, PayloadFormat::JsonPath | PayloadFormat::Esphome);
        if reads_a_field {
            let field = match (format, d.field) {
                (PayloadFormat::JsonPath, None) => {
                    self.problem(
                        p("field"),
                        "required key is missing (a dotted path such as \"sensors.scale.kg\")",
                    );
                    String::new()
                }
                (PayloadFormat::JsonPath, Some(f)) => {
                    if f.is_empty() || f.split('.').any(str::is_empty) || f.len() > 200 {
                        self.problem(
                            p("field"),
                            format_args!("{f:?} is not a dotted path such as \"sensors.scale.kg\""),
                        );
                    }
                    f
                }
                (_, Some(_)) => {
                    self.problem(
                        p("field"),
                        "only for format \"json-path\" (ESPHome payloads are the value itself)",
                    );
                    String::new()
                }
                (_, None) => String::new(),
            };
            let unit =
                match d.unit.as_deref() {
                    None if format == PayloadFormat::JsonPath => {
                        self.problem(p("unit"), "required key is missing (kg, g, lb, W or kW)");
                        Unit::for_quantity(wants)
                    }
                    None => Unit::for_quantity(wants),
                    Some(text) => match Unit::from_name(text) {
                        Some(unit) => {
                            if unit.quantity() != wants {
                                self.problem(
                                p("unit"),
                                format_args!(
                                    "{text:?} is a {} unit but the device is configured as a {}",
                                    unit.quantity().name(),
                                    if wants == Quantity::Weight { "scale" } else { "washer plug" }
                                ),
                            );
                            }
                            unit
                        }
                        None => {
                            self.problem(
                                p("unit"),
                                format_args!("unknown unit {text:?}; expected kg, g, lb, W or kW"),
                            );
                            Unit::for_quantity(wants)
                        }
                    },
                };
            let factor = self.number(
                &p("factor"),
                d.factor,
                1.0,
                |v| v != 0.0,
                "a non-zero number",
            );
            reading = Some(FieldSpec {
                field,
                unit,
                factor,
            });
        } else {
            for (key, set) in [
                ("field", d.field.is_some()),
                ("unit", d.unit.is_some()),
                ("factor", d.factor.is_some()),
            ] {
                if set {
                    self.problem(p(key), "only for formats \"json-path\" and \"esphome\"");
                }
            }
        }
        let channel = match d.channel {
            Some(_) if format != PayloadFormat::Shelly => {
                self.problem(p("channel"), "only for format \"shelly\"");
                0
            }
            v => self.integer(&p("channel"), v, 0, 0..=15) as u8,
        };
        if format == PayloadFormat::Shelly && topic.ends_with('/') {
            self.problem(p("topic"), "the Shelly topic prefix must not end with '/'");
        }
        Device {
            id,
            topic,
            format,
            scale,
            washer,
            reading,
            channel,
        }
    }

    fn scale(&mut self, path: &str, raw: raw::Scale) -> ScaleParams {
        let d = ScaleParams::default();
        let p = |key: &str| format!("{path}.{key}");
        let median_of = self.integer(
            &p("median-of"),
            raw.median_of,
            d.median_of as i64,
            1..=MAX_MEDIAN_OF as i64,
        ) as usize;
        ScaleParams {
            tare_kg: self.number(
                &p("tare-kg"),
                raw.tare_kg,
                d.tare_kg,
                |v| (0.0..=500.0).contains(&v),
                "between 0 and 500",
            ),
            calibration: self.number(
                &p("calibration"),
                raw.calibration,
                d.calibration,
                |v| v > 0.0 && v <= 1000.0,
                "greater than 0 and at most 1000",
            ),
            offset_kg: self.number(
                &p("offset-kg"),
                raw.offset_kg,
                d.offset_kg,
                |v| v.abs() <= 500.0,
                "between -500 and 500",
            ),
            units_per_kg: self.number(
                &p("units-per-kg"),
                raw.units_per_kg,
                d.units_per_kg,
                |v| v > 0.0,
                "greater than 0",
            ),
            deadband_kg: self.number(
                &p("deadband-kg"),
                raw.deadband_kg,
                d.deadband_kg,
                |v| (0.0..=10.0).contains(&v),
                "between 0 and 10",
            ),
            median_of,
            restock_kg: self.number(
                &p("restock-kg"),
                raw.restock_kg,
                d.restock_kg,
                |v| v > 0.0,
                "greater than 0",
            ),
        }
    }

    fn washer(&mut self, path: &str, raw: raw::Washer) -> WasherParams {
        let d = WasherParams::default();
        let p = |key: &str| format!("{path}.{key}");
        let dose = match raw.dose {
            None => {
                self.problem(
                    p("dose"),
                    "required key is missing (item units one cycle uses)",
                );
                1.0
            }
            v => self.number(&p("dose"), v, 1.0, |v| v > 0.0, "greater than 0"),
        };
        let start_watts = self.number(
            &p("start-watts"),
            raw.start_watts,
            d.start_watts,
            |v| v > 0.0,
            "greater than 0",
        );
        let stop_watts = self.number(
            &p("stop-watts"),
            raw.stop_watts,
            d.stop_watts,
            |v| v >= 0.0,
            "0 or more",
        );
        if start_watts.is_finite() && stop_watts.is_finite() && stop_watts >= start_watts {
            self.problem(
                p("stop-watts"),
                format_args!("{stop_watts} must be below start-watts {start_watts} (hysteresis)"),
            );
        }
        let day = 86_400;
        WasherParams {
            dose,
            start_watts,
            stop_watts,
            start_secs: self.integer(&p("start-secs"), raw.start_secs, d.start_secs, 0..=3600),
            stop_secs: self.integer(&p("stop-secs"), raw.stop_secs, d.stop_secs, 0..=day),
            min_run_secs: self.integer(
                &p("min-run-secs"),
                raw.min_run_secs,
                d.min_run_secs,
                0..=day,
            ),
        }
    }
}
