//! The context of one event: what the TCP layer works with besides its
//! own state.

use super::{Stack, TcpOf};
use crate::iface::Interface;
use crate::mem::buf::Frame;
use crate::meter::CostMeter;
use crate::nic::Driver;
use crate::tcp::app::App;
use crate::time::Instant;

/// What the TCP layer works with during one event, besides its own state:
/// the application, the interface below it, the driver, and the time of
/// the event (as smoltcp hands its sockets a `Context`). [`Stack`] builds
/// one per event and lends it down the whole call chain, so no function
/// threads these through its arguments. It is generic over the app and the
/// driver: every call stays static, and nothing is copied.
pub(super) struct Ctx<'a, A, D> {
    pub(super) app: &'a mut A,
    pub(super) iface: &'a mut Interface,
    pub(super) driver: &'a mut D,
    pub(super) now: Instant,
}

impl<A: App> Stack<A> {
    /// The TCP layer, and the context of an event at `now` on `driver`:
    /// the rest of the stack, borrowed apart.
    pub(super) fn split<'a, D: Driver>(
        &'a mut self,
        driver: &'a mut D,
        now: Instant,
    ) -> (&'a mut TcpOf<A>, Ctx<'a, A, D>) {
        let Stack { iface, tcp, app } = self;
        let cx = Ctx {
            app,
            iface,
            driver,
            now,
        };
        (tcp, cx)
    }
}

impl<A, D> Ctx<'_, A, D> {
    /// The core's cost meter (kept in the interface).
    pub(super) fn meter(&mut self) -> &mut CostMeter {
        self.iface.meter_mut()
    }
}

impl<A, D: Driver> Ctx<'_, A, D> {
    /// Gives a frame back to the driver, counted.
    pub(super) fn release(&mut self, frame: Frame) {
        self.iface.meter_mut().driver_releases += 1;
        self.driver.release(frame);
    }
}
