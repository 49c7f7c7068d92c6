//! The peer's replay rules (`shared/tools/peer_replay.py`): its item
//! parameters, and `PeerSim`, the household's shelf under any policy:
//! FIFO lots with shelf-life expiry, a lead-time pipeline, lost sales and
//! the approval rule that decides which orders prompt the household.

/// Approval rule: orders of at most this many packs are auto-approved ...
pub const AUTO_MAX_PACKS: f64 = 2.0;
/// ... if the previous order of the item was at least this many days ago.
pub const AUTO_MIN_GAP: i64 = 3;

/// Per-item replay parameters (the peer's `ITEM` table).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemParams {
    /// Units in one pack.
    pub pack: f64,
    /// Shelf life in days (`f64::INFINITY` for none).
    pub shelf: f64,
    /// Days from order to delivery.
    pub lead: usize,
}

/// The peer's parameters for an item (unknown items get its default).
pub fn item_params(item: &str) -> ItemParams {
    let (shelf, lead) = match item {
        "milk" => (10.0, 1),
        "eggs" => (28.0, 1),
        "cold_cuts" => (7.0, 1),
        "apples" => (14.0, 1),
        "laundry_detergent" | "fabric_softener" => (f64::INFINITY, 2),
        _ => (f64::INFINITY, 1),
    };
    ItemParams {
        pack: 1.0,
        shelf,
        lead,
    }
}

/// How an order is counted against the household's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptMode {
    /// Every order asks the household (a shopping list).
    Every,
    /// Never asks (a subscription already consented to).
    Never,
    /// The approval rule: auto-approve small, spaced orders; ask otherwise.
    Rule,
}

/// What happened on one simulated day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayOutcome {
    /// Units delivered this morning.
    pub received: f64,
    /// Units thrown away because they expired.
    pub expired: f64,
    /// Units consumed.
    pub consumed: f64,
    /// Units of demand that could not be met.
    pub lost: f64,
}

/// The peer's `PeerSim`: FIFO lots with expiry, a lead-time pipeline, lost
/// sales and approval prompts.
#[derive(Debug, Clone)]
pub struct PeerSim {
    shelf: f64,
    lead: usize,
    /// `(units, age in days)`, oldest first.
    pub(super) lots: Vec<(f64, f64)>,
    /// `(arrival day, units)`.
    pipe: Vec<(usize, f64)>,
    /// Days with unmet demand.
    pub stockout_days: u32,
    /// Units of unmet demand.
    pub lost: f64,
    /// Units expired.
    pub waste: f64,
    /// Orders placed.
    pub orders: u32,
    /// Units ordered.
    pub units_ordered: f64,
    /// Orders that needed the household's approval.
    pub prompts: u32,
    /// Sum of end-of-day on-hand units.
    pub inv_sum: f64,
    /// Prompts caused by the size of the order (the rest by its timing).
    pub prompts_large: u32,
    last_order_day: i64,
}

impl PeerSim {
    /// A simulation starting with `init_units` fresh units on hand.
    pub fn new(shelf: f64, lead: usize, init_units: f64) -> PeerSim {
        PeerSim {
            shelf,
            lead,
            lots: if init_units > 0.0 {
                vec![(init_units, 0.0)]
            } else {
                Vec::new()
            },
            pipe: Vec::new(),
            stockout_days: 0,
            lost: 0.0,
            waste: 0.0,
            orders: 0,
            units_ordered: 0.0,
            prompts: 0,
            inv_sum: 0.0,
            prompts_large: 0,
            last_order_day: -1_000_000_000,
        }
    }

    /// Units on hand.
    pub fn on_hand(&self) -> f64 {
        self.lots.iter().map(|l| l.0).sum()
    }

    /// Units ordered and not yet delivered.
    pub fn on_order(&self) -> f64 {
        self.pipe.iter().map(|p| p.1).sum()
    }

    /// On hand plus on order (the peer's inventory position).
    pub fn position(&self) -> f64 {
        self.on_hand() + self.on_order()
    }

    /// Day `t`: receive, expire, consume `demand` FIFO (unmet demand is lost).
    pub fn step(&mut self, t: usize, demand: f64) -> DayOutcome {
        let mut out = DayOutcome::default();
        if let Some(i) = self.pipe.iter().position(|p| p.0 == t) {
            let (_, units) = self.pipe.remove(i);
            self.lots.push((units, 0.0));
            out.received = units;
        }
        let shelf = self.shelf;
        let mut expired = 0.0;
        self.lots.retain(|&(u, a)| {
            if a >= shelf {
                expired += u;
                false
            } else {
                true
            }
        });
        self.waste += expired;
        out.expired = expired;
        let mut need = demand;
        for lot in &mut self.lots {
            let take = lot.0.min(need);
            lot.0 -= take;
            need -= take;
        }
        self.lots.retain(|l| l.0 > 1e-9);
        for lot in &mut self.lots {
            lot.1 += 1.0;
        }
        if need > 1e-6 {
            self.stockout_days += 1;
            self.lost += need;
            out.lost = need;
        }
        out.consumed = demand - need;
        self.inv_sum += self.on_hand();
        out
    }

    /// Places an order of `qty` units on day `t`, counted per `mode`.
    pub fn order(&mut self, t: usize, qty: f64, pack: f64, mode: PromptMode) {
        if qty <= 0.0 {
            return;
        }
        self.orders += 1;
        self.units_ordered += qty;
        let prompt = match mode {
            PromptMode::Every => true,
            PromptMode::Never => false,
            PromptMode::Rule => {
                qty > AUTO_MAX_PACKS * pack || t as i64 - self.last_order_day < AUTO_MIN_GAP
            }
        };
        if prompt {
            self.prompts += 1;
            if mode == PromptMode::Rule && qty > AUTO_MAX_PACKS * pack {
                self.prompts_large += 1;
            }
        }
        self.last_order_day = t as i64;
        let at = t + self.lead;
        match self.pipe.iter_mut().find(|p| p.0 == at) {
            Some(p) => p.1 += qty,
            None => self.pipe.push((at, qty)),
        }
    }

    /// Days since the last order (`None` before the first).
    pub fn days_since_order(&self, t: usize) -> Option<i64> {
        (self.orders > 0).then(|| t as i64 - self.last_order_day)
    }
}

/// Whole packs covering `x` units, at least one pack.
pub fn packs(x: f64, pack: f64) -> f64 {
    pack.max((x / pack - 1e-9).ceil() * pack)
}
