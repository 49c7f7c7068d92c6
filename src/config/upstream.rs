//! `[upstream]`: the shop side, where approved intents go and acks come from.

/// The upstream (shop) side.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Topic signed intents are published to.
    pub topic: String,
    /// Topic the shop acknowledges intents and deliveries on.
    pub ack_topic: String,
    /// Allowed price rise over the configured price, as a fraction (0.10 = 10 %).
    pub price_tolerance: f64,
    /// When one item of a vendor is ordered, items of the same vendor that
    /// would need ordering within this many days are ordered with it
    /// (0 = never top up).
    pub top_up_days: f64,
}
