//! CBOR helpers every signed or native message shares: one item in and
//! out of bytes (nesting-limited, no trailing bytes), a payload map's
//! fields (text keys, no duplicates, no tags) with typed getters, and
//! `clip` for outside text in error messages.

/// Deepest CBOR/JSON nesting the decoders will follow (events, acks and
/// COSE payloads are flat; anything deeper is hostile).
pub(crate) const MAX_NESTING: usize = 16;

/// Serializes a CBOR value (writing into a `Vec` cannot fail).
pub(crate) fn cbor_to_vec(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).expect("writing CBOR into a Vec cannot fail");
    out
}

/// Decodes exactly one CBOR item from `bytes` into a `Value`, following at
/// most `MAX_NESTING` levels and refusing trailing bytes.
pub(crate) fn cbor_value_from_slice(bytes: &[u8]) -> Result<ciborium::Value, String> {
    let mut rest = bytes;
    let value: ciborium::Value =
        ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_NESTING)
            .map_err(|e| cbor_error_text(&e))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the CBOR item", rest.len()));
    }
    Ok(value)
}

/// A readable message for a ciborium decode error.
pub(crate) fn cbor_error_text(error: &ciborium::de::Error<std::io::Error>) -> String {
    use ciborium::de::Error;
    match error {
        Error::Io(_) => "unexpected end of input".to_owned(),
        Error::Syntax(offset) => format!("invalid CBOR at byte {offset}"),
        Error::Semantic(Some(offset), msg) => format!("{msg} (at byte {offset})"),
        Error::Semantic(None, msg) => msg.clone(),
        Error::RecursionLimitExceeded => format!("nested deeper than {MAX_NESTING} levels"),
    }
}

/// Shortens outside text before it goes into an error message.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// The fields of a CBOR payload map: text keys, no duplicates, no tags.
pub(crate) struct CborFields(pub(super) Vec<(String, ciborium::Value)>);

impl CborFields {
    /// Decodes a payload that must be one CBOR map.
    pub(crate) fn decode(bytes: &[u8]) -> Result<CborFields, String> {
        let value = cbor_value_from_slice(bytes)?;
        CborFields::from_value(value)
    }

    /// Checks a value is a map with unique text keys and no tags inside.
    pub(crate) fn from_value(value: ciborium::Value) -> Result<CborFields, String> {
        let ciborium::Value::Map(entries) = value else {
            return Err("payload is not a CBOR map".to_owned());
        };
        let mut fields: Vec<(String, ciborium::Value)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let ciborium::Value::Text(key) = key else {
                return Err("payload keys must be text".to_owned());
            };
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(format!("duplicate field {:?}", clip(&key)));
            }
            if contains_tag(&value) {
                return Err(format!("field {:?} contains a CBOR tag", clip(&key)));
            }
            fields.push((key, value));
        }
        Ok(CborFields(fields))
    }

    /// Removes a required field.
    pub(crate) fn take(&mut self, name: &str) -> Result<ciborium::Value, String> {
        let index = self
            .0
            .iter()
            .position(|(key, _)| key == name)
            .ok_or_else(|| format!("missing field {name:?}"))?;
        Ok(self.0.swap_remove(index).1)
    }

    /// Fails if a field was not taken.
    pub(crate) fn finish(self) -> Result<(), String> {
        match self.0.first() {
            None => Ok(()),
            Some((key, _)) => Err(format!("unknown field {:?}", clip(key))),
        }
    }
}

fn contains_tag(value: &ciborium::Value) -> bool {
    match value {
        ciborium::Value::Tag(..) => true,
        ciborium::Value::Array(items) => items.iter().any(contains_tag),
        ciborium::Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| contains_tag(k) || contains_tag(v)),
        _ => false,
    }
}

/// A text field of at most `max` bytes (non-empty).
pub(crate) fn cbor_text(name: &str, value: ciborium::Value, max: usize) -> Result<String, String> {
    match value {
        ciborium::Value::Text(text) if !text.is_empty() && text.len() <= max => Ok(text),
        ciborium::Value::Text(_) => Err(format!("field {name:?} must be 1 to {max} bytes")),
        _ => Err(format!("field {name:?} must be text")),
    }
}

/// An integer field within `i64`.
pub(crate) fn cbor_i64(name: &str, value: ciborium::Value) -> Result<i64, String> {
    match value {
        ciborium::Value::Integer(n) => {
            i64::try_from(n).map_err(|_| format!("field {name:?} is out of range"))
        }
        _ => Err(format!("field {name:?} must be an integer")),
    }
}
