//! Invariant checks of a stack's connection table ([`Stack::check`]): run
//! after every event (segment processed, timer fired, poll) in debug
//! builds, so every test exercises them; release builds skip them.

use core::fmt;

use super::{Stack, Tcp};
use crate::tcp::tcb::{State, TcbViolation, TimerKind};
use crate::tcp::App;

/// A broken invariant of a stack ([`Stack::check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackViolation {
    /// One connection's.
    Tcb(TcbViolation),
    /// The table's, the listeners' or the shared pools'.
    Table(String),
}

impl fmt::Display for StackViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackViolation::Tcb(v) => v.fmt(f),
            StackViolation::Table(what) => write!(f, "stack invariant broken: {what}"),
        }
    }
}

impl std::error::Error for StackViolation {}

impl<C, W> Tcp<C, W> {
    /// The invariants of the connection in slot `idx` ([`crate::tcp::tcb::Tcb::check`]),
    /// and its slot's: its id names the slot and its generation, and every
    /// timer handle it keeps names a scheduled timer of that slot,
    /// generation and kind.
    pub(super) fn check_conn(&self, idx: usize) -> Result<(), TcbViolation> {
        let Some(slot) = self.slots.get(idx) else {
            return Ok(());
        };
        let tcb = &slot.tcb;
        if tcb.state == State::Closed {
            return Ok(());
        }
        tcb.check(self.config.ooo_max_segments)?;
        if tcb.id.index as usize != idx || tcb.id.generation != slot.generation {
            return Err(tcb.violation(format!(
                "id {}.{} in slot {idx} of generation {}",
                tcb.id.index, tcb.id.generation, slot.generation
            )));
        }
        for (kind, handle) in [
            (TimerKind::Retransmit, tcb.rto_timer),
            (TimerKind::DelayedAck, tcb.delack_timer),
            (TimerKind::Keepalive, tcb.keepalive_timer),
            (TimerKind::App, tcb.app_timer),
        ] {
            let Some(id) = handle else { continue };
            match self.timers.get(id) {
                Some(key)
                    if key.slot as usize == idx
                        && key.generation == slot.generation
                        && key.kind == kind => {}
                Some(key) => {
                    return Err(tcb.violation(format!(
                        "{kind:?} timer handle names a timer of slot {} generation {} kind {:?}",
                        key.slot, key.generation, key.kind
                    )))
                }
                None => {
                    return Err(tcb.violation(format!(
                        "{kind:?} timer handle is stale (fired or cancelled)"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Every invariant of the table: each live connection's
    /// ([`Tcp::check_conn`]); live plus free slots make the table, and the
    /// active count is the number of live slots; each listener's SYN queue
    /// count is the number of its half-open connections and within its
    /// backlog; the out-of-order pool's used entries are the ones the
    /// connections hold. O(slots).
    pub(super) fn check_all(&self) -> Result<(), StackViolation> {
        let mut live = 0usize;
        let mut ooo_held = 0usize;
        for idx in 0..self.slots.len() {
            self.check_conn(idx).map_err(StackViolation::Tcb)?;
            let tcb = &self.slots[idx].tcb;
            if tcb.state != State::Closed {
                live += 1;
                ooo_held += tcb.ooo.len();
            }
        }
        let table = |what: String| Err(StackViolation::Table(what));
        if live != self.active || live + self.free.len() != self.slots.len() {
            return table(format!(
                "{live} live and {} free slots of {}, {} counted active",
                self.free.len(),
                self.slots.len(),
                self.active
            ));
        }
        for l in &self.listeners {
            let half_open = self
                .slots
                .iter()
                .filter(|s| {
                    s.tcb.state != State::Closed
                        && s.tcb.in_syn_queue
                        && s.tcb.listener == Some(l.port)
                })
                .count();
            if l.syn_queue != half_open || l.syn_queue > l.backlog {
                return table(format!(
                    "listener {} counts {} in its SYN queue (backlog {}), {half_open} half-open",
                    l.port, l.syn_queue, l.backlog
                ));
            }
        }
        let used = self.ooo.capacity() - self.ooo.free_entries();
        if used != ooo_held {
            return table(format!(
                "out-of-order pool has {used} entries in use, connections hold {ooo_held}"
            ));
        }
        Ok(())
    }

    /// [`Tcp::check_conn`], panicking on a violation, in debug builds only.
    #[inline]
    pub(super) fn debug_check_conn(&self, idx: usize) {
        #[cfg(debug_assertions)]
        if let Err(v) = self.check_conn(idx) {
            panic!("{v}");
        }
        let _ = idx;
    }

    /// [`Tcp::check_all`], panicking on a violation, in debug builds only.
    #[inline]
    pub(super) fn debug_check_all(&self) {
        #[cfg(debug_assertions)]
        if let Err(v) = self.check_all() {
            panic!("{v}");
        }
    }
}

impl<A: App> Stack<A> {
    /// NIC buffers the stack holds between polls: those of out-of-order
    /// segments, of frames for other cores not yet taken, and of frames
    /// waiting for address resolution (counted from the frames; the
    /// simulator checks them against the pools' counts).
    pub fn held_buffers(&self) -> usize {
        let ooo: usize = self.tcp.ooo.held().map(|f| f.buffer_count()).sum();
        let stray: usize = self.tcp.stray.iter().map(|f| f.buffer_count()).sum();
        ooo + stray + self.iface.pending_buffers()
    }

    /// Checks the invariants of every connection and of the connection
    /// table (see `Tcb::check`: `SND.UNA ≤ SND.NXT ≤ SND.MAX`, queue byte
    /// counts, out-of-order store limits, SYN-queue counts, timer handles
    /// and slot generations). Debug builds run it after every event and
    /// panic on a violation; it can be called in any build.
    pub fn check(&self) -> Result<(), StackViolation> {
        self.tcp.check_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::InterfaceConfig;
    use crate::mem::cursor::Cursor;
    use crate::nic::pair::{pair, PairConfig};
    use crate::nic::Driver;
    use crate::time::{Duration, Instant};
    use crate::wire::{Ipv4Addr, Ipv4Cidr, TcpSeqNumber};
    use crate::{Conn, StaticWriter, TcpConfig};

    struct Quiet;
    impl App for Quiet {
        type Conn = ();
        type Writer = StaticWriter;
        fn accept(&mut self, _: u16, _: &mut Conn<'_, StaticWriter>) -> Option<()> {
            Some(())
        }
        fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, StaticWriter>, _: Cursor<'_>) {}
    }

    /// A client and a server stack with one established connection.
    fn connected() -> (Stack<Quiet>, Stack<Quiet>) {
        let (mut ds, mut dc) = pair(&PairConfig::default());
        let iface =
            |last| InterfaceConfig::new(Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, last), 24).unwrap());
        let now = ds.now();
        let mut server = Stack::new(
            &ds.capabilities(),
            iface(1),
            TcpConfig::default(),
            Quiet,
            now,
        );
        let mut client = Stack::new(
            &dc.capabilities(),
            iface(2),
            TcpConfig::default(),
            Quiet,
            now,
        );
        server.listen(7, 16).unwrap();
        client
            .connect(&mut dc, now, Ipv4Addr::new(10, 0, 0, 1), 7, ())
            .unwrap();
        for _ in 0..20 {
            let now = ds.now();
            server.poll(&mut ds, now);
            client.poll(&mut dc, now);
            ds.advance(Duration::from_millis(1));
        }
        assert_eq!(server.active_connections(), 1);
        assert_eq!(client.active_connections(), 1);
        (server, client)
    }

    #[test]
    fn a_working_stack_passes() {
        let (server, client) = connected();
        assert_eq!(server.check(), Ok(()));
        assert_eq!(client.check(), Ok(()));
    }

    #[test]
    fn a_broken_table_or_connection_is_reported() {
        let (mut server, _) = connected();
        server.tcp.active += 1;
        let v = server.check().unwrap_err();
        assert!(matches!(v, StackViolation::Table(_)), "{v}");
        assert!(v.to_string().contains("counted active"), "{v}");
        server.tcp.active -= 1;

        server.listeners_mut_for_test().syn_queue = 1;
        let v = server.check().unwrap_err();
        assert!(v.to_string().contains("listener 7 counts 1"), "{v}");
        server.listeners_mut_for_test().syn_queue = 0;

        let slot = server
            .tcp
            .slots
            .iter_mut()
            .find(|s| s.tcb.state != State::Closed)
            .unwrap();
        slot.tcb.snd_nxt = slot.tcb.snd_max.wrapping_add(1);
        let v = server.check().unwrap_err();
        assert!(matches!(v, StackViolation::Tcb(_)), "{v}");
        assert!(v.to_string().contains("SND.NXT"), "{v}");
        assert!(v.to_string().contains("10.0.0.1:7 -> 10.0.0.2:"), "{v}");
        let _ = TcpSeqNumber(0);
        let _ = Instant::ZERO;
    }

    impl Stack<Quiet> {
        fn listeners_mut_for_test(&mut self) -> &mut super::super::Listener {
            &mut self.tcp.listeners[0]
        }
    }
}
