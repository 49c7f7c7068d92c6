//! What a handler says about one inbound message: how it was handled
//! ([`Handled`]), or why it was refused ([`Refusal`], which the batch turns
//! into a dead letter and a counter).

/// A refused inbound message: the reason goes to the dead-letter table.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Counter to bump besides `dead_letters`.
    pub counter: &'static str,
    /// Why, for the log and the dead-letter row.
    pub reason: String,
}

impl Refusal {
    /// A refusal counted under `counter`, for `reason`.
    pub(super) fn new(counter: &'static str, reason: impl Into<String>) -> Refusal {
        Refusal {
            counter,
            reason: reason.into(),
        }
    }
}

/// How one message was handled (when not refused).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Handled {
    /// A new observation for this item.
    Stored(String),
    /// An adapter device's payload yielded observations for these items.
    Derived(Vec<String>),
    /// Already seen; ignored.
    Duplicate,
    /// Applied (reply, ack) with nothing for the forecaster.
    Done,
    /// Changed every item (presence): decide for all of them.
    AllItems,
    /// Erased data (forget): the writer scrubs the file after the commit.
    Forgot,
}
