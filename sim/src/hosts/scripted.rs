//! A scripted raw-frame peer: sends frames it was given at given virtual
//! times and records every frame it receives. Tests use it to put exact
//! bytes on a link (malformed frames, replays of captures, hand-built
//! segments) and to see exactly what a host answered.

use std::cell::RefCell;
use std::rc::Rc;

use rusty_stack::stats::{IfaceCounters, TcpCounters};
use rusty_stack::time::Instant;

use crate::hosts::rusty::{CoreRun, CoreStats, HostModel, Outbox};
use crate::net::nic::NicStats;

/// A host with one port and one core that follows a script.
#[derive(Debug, Default)]
pub struct ScriptedHost {
    name: String,
    /// Frames still to send, in time order: `(at, frame)`.
    script: Vec<(Instant, Vec<u8>)>,
    next: usize,
    received: ReceivedLog,
    stats: CoreStats,
}

/// The frames a [`ScriptedHost`] received, readable after the host was
/// handed to the world.
pub type ReceivedLog = Rc<RefCell<Vec<(Instant, Vec<u8>)>>>;

impl ScriptedHost {
    /// A peer that will send each `(at, frame)` of `script` (sorted by time
    /// here, keeping the given order for equal times).
    pub fn new(name: &str, mut script: Vec<(Instant, Vec<u8>)>) -> Self {
        script.sort_by_key(|(at, _)| *at);
        ScriptedHost {
            name: name.to_string(),
            script,
            ..ScriptedHost::default()
        }
    }

    /// A handle on every frame received (with its arrival time), valid
    /// after the host is given to a [`crate::kernel::world::World`].
    pub fn log(&self) -> ReceivedLog {
        Rc::clone(&self.received)
    }

    /// Whether every scripted frame has been sent.
    pub fn done(&self) -> bool {
        self.next >= self.script.len()
    }
}

impl HostModel for ScriptedHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn cores(&self) -> usize {
        1
    }

    fn ports(&self) -> usize {
        1
    }

    fn deliver(&mut self, _port: usize, frame: &[u8], now: Instant) -> Option<usize> {
        self.stats.rx_frames += 1;
        self.received.borrow_mut().push((now, frame.to_vec()));
        None
    }

    fn run_core(&mut self, _core: usize, now: Instant, out: &mut Outbox) -> CoreRun {
        while let Some((at, frame)) = self.script.get(self.next) {
            if *at > now {
                break;
            }
            out.send_copy(0, frame);
            self.stats.tx_frames += 1;
            self.next += 1;
        }
        CoreRun {
            busy_until: now,
            wake_at: self.script.get(self.next).map(|(at, _)| *at),
        }
    }

    fn core_stats(&self, _core: usize) -> CoreStats {
        self.stats
    }

    fn iface_counters(&self) -> IfaceCounters {
        IfaceCounters::default()
    }

    fn tcp_counters(&self) -> TcpCounters {
        TcpCounters::default()
    }

    fn nic_stats(&self) -> NicStats {
        NicStats {
            rx_frames: self.stats.rx_frames,
            tx_frames: self.stats.tx_frames,
            ..NicStats::default()
        }
    }
}
