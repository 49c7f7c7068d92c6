//! What the generic device adapters read (`[devices.reading]`): a field,
//! its unit and a factor.

/// What the generic adapters read (`field`, `unit`, `factor`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// Dotted path into the JSON (`json-path` only; array indexes are numbers).
    pub field: String,
    /// Unit of the value.
    pub unit: Unit,
    /// Multiplied in before the unit conversion.
    pub factor: f64,
}

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Weight (scales).
    Weight,
    /// Power (washer plugs).
    Power,
}

impl Quantity {
    /// `weight` or `power`.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Weight => "weight",
            Quantity::Power => "power",
        }
    }
}

/// Units of the generic adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Kilograms.
    Kg,
    /// Grams.
    G,
    /// Pounds.
    Lb,
    /// Watts.
    W,
    /// Kilowatts.
    Kw,
}

impl Unit {
    /// The unit named `name` (`kg`, `g`, `lb`, `W`, `kW`; case-insensitive).
    pub fn from_name(name: &str) -> Option<Unit> {
        match name.to_ascii_lowercase().as_str() {
            "kg" => Some(Unit::Kg),
            "g" => Some(Unit::G),
            "lb" => Some(Unit::Lb),
            "w" => Some(Unit::W),
            "kw" => Some(Unit::Kw),
            _ => None,
        }
    }

    /// The base unit of a quantity (kg, W).
    pub fn for_quantity(quantity: Quantity) -> Unit {
        match quantity {
            Quantity::Weight => Unit::Kg,
            Quantity::Power => Unit::W,
        }
    }

    /// What the unit measures.
    pub fn quantity(self) -> Quantity {
        match self {
            Unit::Kg | Unit::G | Unit::Lb => Quantity::Weight,
            Unit::W | Unit::Kw => Quantity::Power,
        }
    }
}
