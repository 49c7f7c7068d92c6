//! A flat map of plain values from one JSON object or one CBOR map (no
//! trailing bytes, no tags, no duplicate keys, nesting limited): what a
//! native event and a shop's acknowledgement are decoded into.

use super::WireError;
use crate::config::PayloadFormat;
use crate::protocol::cbor::{MAX_NESTING, cbor_error_text, clip};

/// One decoded value of a flat map. Containers and tags are never kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// Non-negative integer.
    UInt(u64),
    /// Negative integer.
    NegInt(i64),
    /// Integer beyond 64 bits.
    Big,
    /// Float (CBOR may carry NaN/infinity; JSON cannot).
    Float(f64),
    /// Text.
    Text(String),
    /// Byte string (CBOR only).
    Bytes(Vec<u8>),
    /// `true` / `false`.
    Bool(bool),
    /// `null` (or CBOR `undefined`).
    Null,
    /// An array or map (skipped, within the nesting limit).
    Container(&'static str),
}

impl Scalar {
    /// What kind of value this is, for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scalar::UInt(n) => format!("integer {n}"),
            Scalar::NegInt(n) => format!("integer {n}"),
            Scalar::Big => "a huge integer".to_owned(),
            Scalar::Float(f) => format!("float {f}"),
            Scalar::Text(t) => format!("text {:?}", clip(t)),
            Scalar::Bytes(_) => "a byte string".to_owned(),
            Scalar::Bool(b) => format!("boolean {b}"),
            Scalar::Null => "null".to_owned(),
            Scalar::Container(what) => format!("an {what}"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> serde::de::Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a plain value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(match u64::try_from(v) {
            Ok(n) => Scalar::UInt(n),
            Err(_) => Scalar::NegInt(v),
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Scalar, E> {
        Ok(match (u64::try_from(v), i64::try_from(v)) {
            (Ok(n), _) => Scalar::UInt(n),
            (_, Ok(n)) => Scalar::NegInt(n),
            _ => Scalar::Big,
        })
    }
    fn visit_u128<E>(self, v: u128) -> Result<Scalar, E> {
        Ok(u64::try_from(v).map_or(Scalar::Big, Scalar::UInt))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Scalar, E> {
        Ok(Scalar::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Scalar, E> {
        Ok(Scalar::Bytes(v))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::Container("array"))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Scalar::Container("object"))
    }
}

/// A flat map with text keys, decoded from JSON or CBOR; duplicate keys are
/// refused while decoding.
#[derive(Debug, Default)]
pub(crate) struct FieldMap(Vec<(String, Scalar)>);

impl FieldMap {
    /// Removes and returns the value of `name`.
    pub(crate) fn take(&mut self, name: &str) -> Option<Scalar> {
        let index = self.0.iter().position(|(key, _)| key == name)?;
        Some(self.0.swap_remove(index).1)
    }

    /// Fails if any field was not taken (unknown fields are refused).
    pub(crate) fn refuse_leftovers(&self, format: PayloadFormat) -> Result<(), WireError> {
        match self.0.first() {
            None => Ok(()),
            Some((key, _)) => Err(WireError::Decode {
                format: format_name(format),
                detail: format!("unknown field {:?}", clip(key)),
            }),
        }
    }
}

impl<'de> serde::Deserialize<'de> for FieldMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> serde::de::Visitor<'de> for MapVisitor {
            type Value = FieldMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map with text keys")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<FieldMap, A::Error> {
                let mut map = FieldMap::default();
                while let Some(TextKey(key)) = access.next_key::<TextKey>()? {
                    let value = access.next_value::<Scalar>()?;
                    if map.0.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate field {:?}",
                            clip(&key)
                        )));
                    }
                    map.0.push((key, value));
                }
                Ok(map)
            }
        }
        // `deserialize_any`, not `deserialize_map`: ciborium's typed
        // entry points silently skip CBOR tags, `any` refuses them.
        deserializer.deserialize_any(MapVisitor)
    }
}

/// A map key: text only (CBOR integer, byte-string or tagged keys refused).
struct TextKey(String);

impl<'de> serde::Deserialize<'de> for TextKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = TextKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text key")
            }
            fn visit_str<E>(self, v: &str) -> Result<TextKey, E> {
                Ok(TextKey(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<TextKey, E> {
                Ok(TextKey(v))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

fn format_name(format: PayloadFormat) -> &'static str {
    format.name()
}

/// Decodes one JSON object or one CBOR map into a `FieldMap` (no size check:
/// callers check their own limit first).
pub(crate) fn decode_field_map(format: PayloadFormat, bytes: &[u8]) -> Result<FieldMap, WireError> {
    let decode = |detail: String| WireError::Decode {
        format: format_name(format),
        detail,
    };
    match format {
        PayloadFormat::Json
        | PayloadFormat::Zigbee2mqtt
        | PayloadFormat::Tasmota
        | PayloadFormat::Shelly
        | PayloadFormat::Esphome
        | PayloadFormat::Homeconnect
        | PayloadFormat::JsonPath => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let map =
                serde::Deserialize::deserialize(&mut de).map_err(|e| decode(e.to_string()))?;
            de.end().map_err(|e| decode(e.to_string()))?;
            Ok(map)
        }
        PayloadFormat::Cbor => {
            if bytes.is_empty() {
                return Err(decode("empty payload".to_owned()));
            }
            let mut rest = bytes;
            let map: FieldMap =
                ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_NESTING)
                    .map_err(|e| decode(cbor_error_text(&e)))?;
            if !rest.is_empty() {
                return Err(decode(format!(
                    "{} trailing bytes after the CBOR item",
                    rest.len()
                )));
            }
            Ok(map)
        }
    }
}
