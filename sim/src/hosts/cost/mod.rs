//! What a core's work costs in virtual time: CPU cost profiles.
//!
//! A simulated core is busy until the virtual time its work costs. A
//! Rusty host prices the operations its stacks counted in their
//! [`CostMeter`]s (frames, headers parsed and built, bytes checksummed and
//! copied, timer operations, lookups, driver and app calls) with a
//! **profile** ([`CostModel`]) of a target processor:
//!
//! 1. **Instructions.** Each counted operation costs the x86 instructions
//!    our stack executes for it ([`ops::INSTRUCTIONS`], read off callgrind
//!    profiles of `rusty-sim bench`), times the profile's cycles per such
//!    instruction on the target ([`CostModel::milli_cpi`]).
//! 2. **Allocations** (profile `rusty-2015` only): the original C++ stack
//!    allocated for every timer, buffer, closure, transmit-queue entry and
//!    TCB (thesis chapter 4); each counted operation of those kinds costs
//!    [`AllocationCosts::cycles`] per allocation ([`ops::ALLOCATIONS_2015`]).
//! 3. **Memory** ([`MemoryCosts`]): stalls on the connection state that
//!    does not fit the core's L2 (served from other tiles' L2 or from
//!    DRAM), on page data read from DRAM by the copy into transmit
//!    buffers and on received frames read by the checksum; DRAM latency
//!    grows with the host's DRAM bandwidth utilisation
//!    ([`memory::MemoryLoad`]), shared by all cores of the host — the
//!    TILE-Gx36's two DDR3-1600 controllers.
//!
//! Hosts without a cost meter (smoltcp peers, scripted peers) are priced
//! per frame and byte with [`FrameCosts`] ([`CostModel::time`]).
//!
//! Every price is an integer (thousandths of an instruction or a cycle),
//! so a run's virtual time is the same on every machine.
//!
//! # Profiles and their sources
//!
//! * [`CostModel::TILEGX36`] — **our stack on the TILE-Gx36**: 1.2 GHz
//!   tiles (thesis, figures.md); one cycle per x86 instruction of our code
//!   (an assumption: the tile is an in-order 3-wide VLIW, whose bundles
//!   roughly make up for a RISC ISA's longer instruction sequences; memory
//!   stalls are counted apart); the memory system of figures.md's table
//!   (256 KB L2 per tile, 36 × 256 KB shared, 32–41 cycles to another
//!   tile's L2, 67 cycles to DDR3); two DDR3-1600 controllers of 12.8 GB/s
//!   each (the DDR3-1600 datasheet rate of a 64-bit channel).
//! * [`CostModel::RUSTY_2015`] — **the original C++ stack's operation
//!   mix on the same chip**: the same protocol work as ours (both stacks
//!   implement the same RFCs over the same buffers), plus one dynamic
//!   allocation per timer scheduled (a `std::map` node), per buffer
//!   received or allocated for transmission (a `shared_ptr` control
//!   block), per app callback (a closure), per transmit-queue entry and
//!   per TCB (thesis chapter 4, "Timers", and the introduction's account
//!   of where the cycles went), and its larger per-connection state. Two
//!   parameters are fitted to two points of the thesis curve (see
//!   [`CostModel::RUSTY_2015`]); everything else is shared with
//!   `tilegx36`.
//! * [`CostModel::X86`] — **this project's x86 machine**: cycles per
//!   instruction from `rusty-sim bench --conns 1` (CPU time per request
//!   over callgrind's instructions per request, at an assumed 3 GHz), the
//!   machine's caches (`lscpu`: 512 KB L2 per core, 32 MB L3), typical
//!   EPYC latencies (about 50 cycles to L3, 100 ns to DRAM).
//! * [`CostModel::ZERO`] — free work, for functional tests.
//!
//! ```
//! use rusty_sim::hosts::cost::{CoreLoad, CostModel, Pricer};
//! use rusty_stack::meter::CostMeter;
//!
//! let mut work = CostMeter::default();
//! work.frames_rx = 10;
//! work.bytes_rx = 15_140;
//! work.bytes_checksummed = 15_000;
//! let ours = Pricer::new(CostModel::TILEGX36, 2_000);
//! let old = Pricer::new(CostModel::RUSTY_2015, 2_000);
//! let load = CoreLoad { connections: 30, host_connections: 1000, dram_queue_milli: 1000 };
//! let a = ours.price(&work, &load);
//! let b = old.price(&work, &load);
//! // The original allocated a shared_ptr per received buffer.
//! assert!(b.cycles > a.cycles && b.allocations == 10);
//! assert_eq!(ours.time(a.cycles), CostModel::TILEGX36.cycles_to_time(a.cycles));
//! ```
//!
//! [`CostMeter`]: rusty_stack::meter::CostMeter

pub mod memory;
pub mod ops;

use rusty_stack::meter::CostMeter;
use rusty_stack::time::Duration;

/// Work done by one core of a host without a cost meter (smoltcp, scripted
/// peers), priced with [`FrameCosts`].
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

/// Coarse per-frame and per-byte costs, in cycles, of hosts whose stack has
/// no cost meter (smoltcp, scripted peers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCosts {
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

/// Dynamic allocations of a stack that allocates on its data path (the
/// original C++ stack, [`CostModel::RUSTY_2015`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocationCosts {
    /// Cycles per allocation and its later free, everything an allocated
    /// object costs beyond our stack's work on the same operation.
    pub cycles: u64,
}

/// The memory system of a target: caches, latencies and DRAM bandwidth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryCosts {
    /// Cache line size in bytes.
    pub line: u64,
    /// A core's own last private cache level (TILE-Gx: its L2).
    pub private_bytes: u64,
    /// The shared level behind it, for the whole chip (TILE-Gx: the other
    /// tiles' L2s; x86: the L3).
    pub shared_bytes: u64,
    /// Cycles of a line served by the shared level.
    pub shared_cycles: u64,
    /// Cycles of a line served by DRAM, unloaded.
    pub dram_cycles: u64,
    /// DRAM bandwidth of the whole host, bytes per second.
    pub dram_bytes_per_s: u64,
    /// Bytes of state per connection, or `None` for the size of our
    /// stack's own connection slot (the host passes it to [`Pricer::new`]).
    pub conn_state_bytes: Option<u64>,
    /// Cache lines of connection state one segment touches (received or
    /// sent).
    pub lines_per_segment: u64,
    /// Lines a streaming copy or checksum has in flight at once: its DRAM
    /// or shared-level latency is divided by this.
    pub lines_in_flight: u64,
}

/// A target processor's cost profile. In scenario files a profile is
/// named: `cost_model = "tilegx36"` (the default), `"rusty-2015"`,
/// `"x86"` or `"zero"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostModel {
    /// Name used in scenarios and reports.
    pub name: &'static str,
    /// Clock rate in Hz.
    pub hz: u64,
    /// Cycles per x86 instruction of our stack's code, in thousandths.
    pub milli_cpi: u64,
    /// The data path's dynamic allocations, if it makes any.
    pub allocations: Option<AllocationCosts>,
    /// The memory system, or `None` for no memory stalls.
    pub memory: Option<MemoryCosts>,
    /// Costs of hosts without a cost meter.
    pub unmetered: FrameCosts,
}

/// The TILE-Gx36's memory system (figures.md's table; the DDR3-1600
/// datasheet rate of its two controllers).
const TILEGX36_MEMORY: MemoryCosts = MemoryCosts {
    line: 64,
    private_bytes: 256 * 1024,
    shared_bytes: 36 * 256 * 1024,
    // The middle of figures.md's 32–41 cycles.
    shared_cycles: 36,
    // figures.md: 67 cycles with the page in the TLB.
    dram_cycles: 67,
    // Two 64-bit DDR3-1600 channels: 2 × 1600 MT/s × 8 bytes.
    dram_bytes_per_s: 2 * 12_800_000_000,
    conn_state_bytes: None,
    // A segment reads and writes the TCB's sequence space, windows, RTT and
    // congestion state, its timers and its transmit queue's head: about 4
    // lines of our `Tcb` (its hot fields are grouped at its start).
    lines_per_segment: 4,
    // The tile's memcpy and our checksum stream with prefetches; we assume
    // four lines in flight (an in-order tile, non-blocking loads).
    lines_in_flight: 4,
};

/// The per-frame costs the simulator used before the cost meter (a fit of
/// the thesis curve's end point), kept for hosts without a meter.
const TILEGX36_FRAMES: FrameCosts = FrameCosts {
    per_poll: 200,
    per_rx_frame: 9_000,
    per_tx_frame: 22_000,
    per_16_rx_bytes: 16,
    per_16_tx_bytes: 64,
};

impl CostModel {
    /// Our stack on one 1.2 GHz TILE-Gx tile (see the module docs for
    /// every source).
    pub const TILEGX36: CostModel = CostModel {
        name: "tilegx36",
        hz: 1_200_000_000,
        milli_cpi: 1_000,
        allocations: None,
        memory: Some(TILEGX36_MEMORY),
        unmetered: TILEGX36_FRAMES,
    };

    /// The original C++ stack (2015) on one 1.2 GHz TILE-Gx tile: our
    /// operation counts and instruction costs, plus the original's
    /// allocations and its larger connection state.
    ///
    /// **Calibration** (two points of the thesis curve, 1 and 35 workers,
    /// MTU 1500; every other point of `rusty-sim scale --profile
    /// rusty-2015` is a prediction): [`AllocationCosts::cycles`]
    /// ([`RUSTY_2015_ALLOC_CYCLES`]) is fitted so that 35 workers serve
    /// 12.0 Gbps, and the cache lines of connection state one segment
    /// touches ([`RUSTY_2015_LINES_PER_SEGMENT`]) so that 1 worker serves
    /// 0.395 Gbps (the thesis's two figures stated in its text; the two
    /// are fitted together, each point depending mostly on one); the state's size ([`RUSTY_2015_CONN_STATE_BYTES`]) is an
    /// estimate from chapter 4's account of what a connection held. A fitted allocation cost far above a malloc fast path (about
    /// 100 cycles) stands for everything an allocated object cost the
    /// original — constructors, `shared_ptr` reference counts, `std::map`
    /// rebalancing, `std::function` calls, and misses on fresh heap memory
    /// homed on other tiles.
    pub const RUSTY_2015: CostModel = CostModel {
        name: "rusty-2015",
        hz: 1_200_000_000,
        milli_cpi: 1_000,
        allocations: Some(AllocationCosts {
            cycles: RUSTY_2015_ALLOC_CYCLES,
        }),
        memory: Some(MemoryCosts {
            conn_state_bytes: Some(RUSTY_2015_CONN_STATE_BYTES),
            lines_per_segment: RUSTY_2015_LINES_PER_SEGMENT,
            ..TILEGX36_MEMORY
        }),
        unmetered: TILEGX36_FRAMES,
    };

    /// One core of this project's x86 machine (see the module docs).
    pub const X86: CostModel = CostModel {
        name: "x86",
        hz: 3_000_000_000,
        // `rusty-sim bench --conns 1` (2026-12-03, median of 3): 65.5 µs of
        // CPU per request for 415.4 k instructions per request (callgrind)
        // = 0.158 ns per instruction = 0.473 cycles at 3 GHz.
        milli_cpi: 473,
        allocations: None,
        memory: Some(MemoryCosts {
            line: 64,
            private_bytes: 512 * 1024,
            shared_bytes: 32 * 1024 * 1024,
            shared_cycles: 50,
            dram_cycles: 300,
            // A VM's share of two DDR4 channels.
            dram_bytes_per_s: 20_000_000_000,
            conn_state_bytes: None,
            lines_per_segment: 4,
            // Out-of-order cores with hardware prefetchers.
            lines_in_flight: 10,
        }),
        unmetered: FrameCosts {
            per_poll: 50,
            per_rx_frame: 1_500,
            per_tx_frame: 1_500,
            per_16_rx_bytes: 4,
            per_16_tx_bytes: 4,
        },
    };

    /// Free work: cores are never busy (functional tests).
    pub const ZERO: CostModel = CostModel {
        name: "zero",
        hz: 1_000_000_000,
        milli_cpi: 0,
        allocations: None,
        memory: None,
        unmetered: FrameCosts {
            per_poll: 0,
            per_rx_frame: 0,
            per_tx_frame: 0,
            per_16_rx_bytes: 0,
            per_16_tx_bytes: 0,
        },
    };

    /// Every named model.
    pub const ALL: [CostModel; 4] = [Self::TILEGX36, Self::RUSTY_2015, Self::X86, Self::ZERO];

    /// The model called `name`.
    pub fn by_name(name: &str) -> Option<CostModel> {
        Self::ALL.into_iter().find(|m| m.name == name)
    }

    /// Cycles that `w` (the work of a host without a cost meter) takes.
    pub fn cycles(&self, w: &Work) -> u64 {
        let f = &self.unmetered;
        w.polls * f.per_poll
            + w.rx_frames * f.per_rx_frame
            + w.tx_frames * f.per_tx_frame
            + w.rx_bytes / 16 * f.per_16_rx_bytes
            + w.tx_bytes / 16 * f.per_16_tx_bytes
    }

    /// Virtual time that `w` (the work of a host without a cost meter)
    /// takes.
    pub fn time(&self, w: &Work) -> Duration {
        self.cycles_to_time(self.cycles(w))
    }

    /// Virtual time of `cycles` at this model's clock.
    pub fn cycles_to_time(&self, cycles: u64) -> Duration {
        let ns = u128::from(cycles) * 1_000_000_000 / u128::from(self.hz.max(1));
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

/// Cycles per allocation of [`CostModel::RUSTY_2015`]: **fitted** to the
/// thesis's 35-worker point (12.0 Gbps at MTU 1500; the sweep gives
/// 11.85): with 28 connections per core the state fits the tiles' L2, so
/// that point is set by the allocations.
pub const RUSTY_2015_ALLOC_CYCLES: u64 = 10_450;

/// Bytes of per-connection state of [`CostModel::RUSTY_2015`]: an
/// **estimate**, not fitted. The original kept per connection a TCB, a
/// `std::map` node per armed timer, a transmit-queue entry with its
/// `shared_ptr` control block per unacknowledged segment of a 20-segment
/// window and the closures of its handlers (thesis chapter 4): about 8 KB
/// against our 1–2 KB slot.
pub const RUSTY_2015_CONN_STATE_BYTES: u64 = 8_192;

/// Cache lines of connection state one segment touches in
/// [`CostModel::RUSTY_2015`]: **fitted** to the thesis's one-worker point
/// (0.395 Gbps; the sweep gives 0.392), where 1000 connections' state
/// misses the core's L2. 100 lines (6.4 KB) of the 8 KB: the
/// original walked its timer tree, its transmit queue and the reference
/// counts of every buffer in it on every segment, so a segment touched
/// most of its connection's state, where ours touches 4 lines.
pub const RUSTY_2015_LINES_PER_SEGMENT: u64 = 100;

impl Default for CostModel {
    /// The thesis hardware with our stack: [`CostModel::TILEGX36`].
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

/// What a core's load looks like when its work is priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreLoad {
    /// Connections the core holds (its working set).
    pub connections: u64,
    /// Connections the whole host holds (whether they fit the shared
    /// level).
    pub host_connections: u64,
    /// How much longer than unloaded a DRAM access takes now, in
    /// thousandths ([`memory::MemoryLoad::queue_milli`]; 1000 unloaded).
    pub dram_queue_milli: u64,
}

/// The price of some work, split by what it went to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Charge {
    /// Total cycles.
    pub cycles: u64,
    /// Of which executing instructions.
    pub instruction_cycles: u64,
    /// Of which dynamic allocations.
    pub allocation_cycles: u64,
    /// Of which memory stalls.
    pub memory_cycles: u64,
    /// Dynamic allocations made.
    pub allocations: u64,
    /// Bytes moved to and from DRAM.
    pub dram_bytes: u64,
}

impl core::ops::AddAssign for Charge {
    fn add_assign(&mut self, o: Charge) {
        self.cycles += o.cycles;
        self.instruction_cycles += o.instruction_cycles;
        self.allocation_cycles += o.allocation_cycles;
        self.memory_cycles += o.memory_cycles;
        self.allocations += o.allocations;
        self.dram_bytes += o.dram_bytes;
    }
}

/// A profile ready to price [`CostMeter`] deltas: the per-operation tables
/// laid out in the meter's field order.
#[derive(Clone, Debug)]
pub struct Pricer {
    model: CostModel,
    milli_instructions: [u64; CostMeter::FIELDS],
    milli_allocations: [u64; CostMeter::FIELDS],
    conn_state_bytes: u64,
}

impl Pricer {
    /// `model` for a stack whose connection slot is `slot_bytes` long
    /// (used where the profile's memory has no state size of its own).
    pub fn new(model: CostModel, slot_bytes: u64) -> Pricer {
        let names = CostMeter::default().fields();
        let table = |t: &[(&str, u64)]| {
            let mut out = [0u64; CostMeter::FIELDS];
            for (i, (name, _)) in names.iter().enumerate() {
                out[i] = t.iter().find(|(n, _)| n == name).map_or(0, |&(_, c)| c);
            }
            out
        };
        let milli_allocations = if model.allocations.is_some() {
            table(ops::ALLOCATIONS_2015)
        } else {
            [0; CostMeter::FIELDS]
        };
        Pricer {
            milli_instructions: table(ops::INSTRUCTIONS),
            milli_allocations,
            conn_state_bytes: model
                .memory
                .and_then(|m| m.conn_state_bytes)
                .unwrap_or(slot_bytes),
            model,
        }
    }

    /// The profile.
    pub fn model(&self) -> &CostModel {
        &self.model
    }

    /// Bytes of state per connection this pricer assumes.
    pub fn conn_state_bytes(&self) -> u64 {
        self.conn_state_bytes
    }

    /// x86 instructions of our stack for `work`.
    pub fn instructions(&self, work: &CostMeter) -> u64 {
        dot(&work.fields(), &self.milli_instructions) / 1000
    }

    /// The price of `work` (a meter delta of one core) under `load`.
    pub fn price(&self, work: &CostMeter, load: &CoreLoad) -> Charge {
        let fields = work.fields();
        let m = &self.model;
        let instruction_cycles = (u128::from(dot(&fields, &self.milli_instructions))
            * u128::from(m.milli_cpi)
            / 1_000_000) as u64;
        let allocations = dot(&fields, &self.milli_allocations) / 1000;
        let allocation_cycles = allocations * m.allocations.map_or(0, |a| a.cycles);
        let (memory_cycles, dram_bytes) = match &m.memory {
            Some(mem) => self.memory(mem, work, load),
            None => (0, 0),
        };
        Charge {
            cycles: instruction_cycles + allocation_cycles + memory_cycles,
            instruction_cycles,
            allocation_cycles,
            memory_cycles,
            allocations,
            dram_bytes,
        }
    }

    /// Stall cycles and DRAM bytes of `work`.
    fn memory(&self, mem: &MemoryCosts, work: &CostMeter, load: &CoreLoad) -> (u64, u64) {
        let dram = mem.dram_cycles * load.dram_queue_milli.max(1000) / 1000;
        let line = mem.line.max(1);
        let in_flight = mem.lines_in_flight.max(1);
        // Connection state: the share of the core's working set that does
        // not fit its private cache misses, to the shared level while the
        // host's state fits there, else to DRAM.
        let working_set = load.connections * self.conn_state_bytes;
        let miss_milli = if working_set > mem.private_bytes {
            1000 - mem.private_bytes * 1000 / working_set
        } else {
            0
        };
        let far = if load.host_connections * self.conn_state_bytes > mem.shared_bytes {
            dram
        } else {
            mem.shared_cycles
        };
        let segments = work.conn_lookups + work.tcp_templated + work.tcp_built;
        let state_misses = segments * mem.lines_per_segment * miss_milli / 1000;
        // Page data copied into transmit buffers streams from DRAM (the
        // served files are larger than every cache); received frames are
        // read by the checksum from where the NIC wrote them (the shared
        // level).
        let copy_lines = work.bytes_copied.div_ceil(line);
        let rx_lines = work.bytes_rx.div_ceil(line);
        let stalls = state_misses * far
            + copy_lines * dram / in_flight
            + rx_lines * mem.shared_cycles / in_flight;
        // DRAM traffic: the page reads, the NIC's writes of received frames
        // and its reads of sent ones, and the state lines that missed to
        // DRAM.
        let state_dram = if far == mem.shared_cycles {
            0
        } else {
            state_misses * line
        };
        let dram_bytes = work.bytes_copied + work.bytes_rx + work.bytes_tx + state_dram;
        (stalls, dram_bytes)
    }

    /// Virtual time of `cycles` at the profile's clock.
    pub fn time(&self, cycles: u64) -> Duration {
        self.model.cycles_to_time(cycles)
    }
}

/// Σ count × price, prices in thousandths.
fn dot(fields: &[(&'static str, u64); CostMeter::FIELDS], milli: &[u64; CostMeter::FIELDS]) -> u64 {
    fields
        .iter()
        .zip(milli)
        .map(|(&(_, n), &c)| n.wrapping_mul(c))
        .fold(0u64, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmetered_costs_add_up() {
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
        assert_eq!(
            CostModel::by_name("rusty-2015"),
            Some(CostModel::RUSTY_2015)
        );
        assert_eq!(CostModel::by_name("vax"), None);
    }

    fn unloaded(connections: u64) -> CoreLoad {
        CoreLoad {
            connections,
            host_connections: connections,
            dram_queue_milli: 1000,
        }
    }

    #[test]
    fn instructions_are_priced_per_counted_operation() {
        let p = Pricer::new(CostModel::TILEGX36, 1000);
        let w = CostMeter {
            frames_rx: 3,
            ..CostMeter::default()
        };
        let per_frame = ops::INSTRUCTIONS
            .iter()
            .find(|(n, _)| *n == "frames_rx")
            .unwrap()
            .1;
        assert_eq!(p.instructions(&w), 3 * per_frame / 1000);
        let c = p.price(&w, &unloaded(1));
        // One cycle per instruction on the tile, no bytes, no allocations.
        assert_eq!(c.instruction_cycles, 3 * per_frame / 1000);
        assert_eq!((c.allocations, c.memory_cycles, c.dram_bytes), (0, 0, 0));
        assert_eq!(
            Pricer::new(CostModel::ZERO, 1000)
                .price(&w, &unloaded(1))
                .cycles,
            0
        );
    }

    #[test]
    fn the_original_allocates_per_timer_buffer_closure_queue_entry_and_tcb() {
        let p = Pricer::new(CostModel::RUSTY_2015, 1000);
        let w = CostMeter {
            timer_schedules: 1,
            frames_rx: 1,
            driver_allocs: 1,
            app_calls: 1,
            writer_calls: 1,
            conn_table_ops: 1,
            ..CostMeter::default()
        };
        let c = p.price(&w, &unloaded(1));
        assert_eq!(c.allocations, 6);
        assert_eq!(c.allocation_cycles, 6 * RUSTY_2015_ALLOC_CYCLES);
        let ours = Pricer::new(CostModel::TILEGX36, 1000).price(&w, &unloaded(1));
        assert_eq!(ours.allocations, 0);
        assert_eq!(c.instruction_cycles, ours.instruction_cycles);
    }

    #[test]
    fn connection_state_misses_once_it_outgrows_the_cache() {
        let p = Pricer::new(CostModel::TILEGX36, 4096);
        let w = CostMeter {
            conn_lookups: 100,
            ..CostMeter::default()
        };
        // 64 connections of 4 KB fit 256 KB: no stall.
        assert_eq!(p.price(&w, &unloaded(64)).memory_cycles, 0);
        // 128 do not: half the lines miss, to other tiles' L2.
        let half = p.price(&w, &unloaded(128));
        assert_eq!(half.memory_cycles, 100 * 4 / 2 * 36);
        assert_eq!(half.dram_bytes, 0);
        // A host whose state exceeds the 9 MB of all L2s misses to DRAM,
        // and DRAM is slower when loaded.
        let load = CoreLoad {
            connections: 128,
            host_connections: 10_000,
            dram_queue_milli: 2000,
        };
        let far = p.price(&w, &load);
        assert_eq!(far.memory_cycles, 100 * 4 / 2 * 67 * 2);
        assert_eq!(far.dram_bytes, 100 * 4 / 2 * 64);
    }

    #[test]
    fn copies_stream_from_dram() {
        let p = Pricer::new(CostModel::TILEGX36, 1000);
        let w = CostMeter {
            bytes_copied: 6400,
            bytes_tx: 6400,
            ..CostMeter::default()
        };
        let c = p.price(&w, &unloaded(1));
        assert_eq!(c.memory_cycles, 100 * 67 / 4);
        assert_eq!(c.dram_bytes, 12_800);
    }
}
