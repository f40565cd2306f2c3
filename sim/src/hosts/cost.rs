//! What a core's work costs in virtual time.
//!
//! A simulated core is busy until the virtual time its work costs. The
//! cost comes from counters the stack exposes — frames and bytes received
//! and sent, and polls — priced in cycles of a target CPU and converted to
//! nanoseconds at its clock rate. The TILE-Gx36 model is a first, coarse
//! calibration: the thesis scenario gives about 13 Gbps with 35 workers
//! (thesis: 12 Gbps), 3.1 Gbps with 8, and 0.19 Gbps with one worker over a
//! one-second run (thesis: 0.395 Gbps). A later calibration refines it.

use rusty_stack::time::Duration;

/// Work done by one core during one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Poll-loop iterations.
    pub polls: u64,
    /// Frames received.
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// Per-operation costs of a target CPU. In scenario files a model is
/// named: `cost_model = "tilegx36"` (the default), `"x86"` or `"zero"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostModel {
    /// Name used in scenarios and reports.
    pub name: &'static str,
    /// Clock rate in Hz.
    pub hz: u64,
    /// Cycles per poll-loop iteration (timers, queue check).
    pub per_poll: u64,
    /// Cycles per received frame (parsing, TCP input, the app handler).
    pub per_rx_frame: u64,
    /// Cycles per sent frame (headers, TCP output, driver).
    pub per_tx_frame: u64,
    /// Cycles per 16 received bytes (checksum, cache misses).
    pub per_16_rx_bytes: u64,
    /// Cycles per 16 sent bytes (writer copies into NIC buffers).
    pub per_16_tx_bytes: u64,
}

impl CostModel {
    /// One 1.2 GHz TILE-Gx tile running the stack.
    pub const TILEGX36: CostModel = CostModel {
        name: "tilegx36",
        hz: 1_200_000_000,
        per_poll: 200,
        per_rx_frame: 9_000,
        per_tx_frame: 22_000,
        per_16_rx_bytes: 16,
        per_16_tx_bytes: 64,
    };

    /// One core of a 3 GHz x86 server (the client side of the benchmark).
    pub const X86: CostModel = CostModel {
        name: "x86",
        hz: 3_000_000_000,
        per_poll: 50,
        per_rx_frame: 1_500,
        per_tx_frame: 1_500,
        per_16_rx_bytes: 4,
        per_16_tx_bytes: 4,
    };

    /// Free work: cores are never busy (functional tests).
    pub const ZERO: CostModel = CostModel {
        name: "zero",
        hz: 1_000_000_000,
        per_poll: 0,
        per_rx_frame: 0,
        per_tx_frame: 0,
        per_16_rx_bytes: 0,
        per_16_tx_bytes: 0,
    };

    /// Every named model.
    pub const ALL: [CostModel; 3] = [Self::TILEGX36, Self::X86, Self::ZERO];

    /// The model called `name`.
    pub fn by_name(name: &str) -> Option<CostModel> {
        Self::ALL.into_iter().find(|m| m.name == name)
    }

    /// Cycles the work takes.
    pub fn cycles(&self, w: &Work) -> u64 {
        w.polls * self.per_poll
            + w.rx_frames * self.per_rx_frame
            + w.tx_frames * self.per_tx_frame
            + w.rx_bytes / 16 * self.per_16_rx_bytes
            + w.tx_bytes / 16 * self.per_16_tx_bytes
    }

    /// Virtual time the work takes.
    pub fn time(&self, w: &Work) -> Duration {
        let cycles = u128::from(self.cycles(w));
        Duration::from_nanos((cycles * 1_000_000_000 / u128::from(self.hz.max(1))) as u64)
    }
}

impl Default for CostModel {
    /// The thesis hardware: [`CostModel::TILEGX36`].
    fn default() -> Self {
        Self::TILEGX36
    }
}

impl serde::Serialize for CostModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> serde::Deserialize<'de> for CostModel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        CostModel::by_name(&name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|m| m.name).collect();
            serde::de::Error::custom(format!(
                "unknown cost model `{name}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_add_up() {
        let w = Work {
            polls: 1,
            rx_frames: 2,
            rx_bytes: 160,
            tx_frames: 1,
            tx_bytes: 1600,
        };
        let m = CostModel::TILEGX36;
        assert_eq!(m.cycles(&w), 200 + 18_000 + 22_000 + 160 + 6_400);
        // 46,760 cycles at 1.2 GHz.
        assert_eq!(m.time(&w), Duration::from_nanos(38_966));
        assert_eq!(CostModel::ZERO.time(&w), Duration::ZERO);
        assert_eq!(CostModel::by_name("x86"), Some(CostModel::X86));
        assert_eq!(CostModel::by_name("vax"), None);
    }
}
