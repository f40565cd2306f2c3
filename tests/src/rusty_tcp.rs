//! A Rusty TCP [`Stack`] as a [`RustyNode`], and a writer over owned bytes
//! for test applications.

use std::rc::Rc;

use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::mem::cursor::CursorMut;
use rusty_stack::nic::Driver;
use rusty_stack::tcp::{App, TcpConfig, Writer};
use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Cidr, MacAddr};
use rusty_stack::Stack;

use crate::link::Port;
use crate::rusty_host::{LinkDriver, RustyHost, RustyNode};

impl<A: App> RustyNode for Stack<A> {
    fn poll(&mut self, driver: &mut LinkDriver, now: Instant) -> bool {
        Stack::poll(self, driver, now)
    }

    fn poll_at(&self) -> Option<Instant> {
        Stack::poll_at(self)
    }
}

impl<A: App> RustyHost<Stack<A>> {
    /// A TCP stack running `app` (MTU 1500, default pools) with MAC `mac`
    /// and address `ip` on `port`.
    pub fn stack(port: Port, mac: MacAddr, ip: Ipv4Cidr, config: TcpConfig, app: A) -> Self {
        let driver = LinkDriver::new(port, mac, 1500, &PoolConfig::default(), 1024);
        let stack = Stack::new(
            &driver.capabilities(),
            InterfaceConfig::new(ip),
            config,
            app,
            driver.now(),
        );
        RustyHost::new(stack, driver)
    }
}

/// A [`Writer`] over owned bytes (cheap to clone; tests only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BytesWriter(pub Rc<[u8]>);

impl BytesWriter {
    /// A writer over a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        BytesWriter(Rc::from(bytes))
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Writer for BytesWriter {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let end = offset.saturating_add(out.len()).min(self.0.len());
        let bytes = self.0.get(offset..end).unwrap_or(&[]);
        let written = out.write(bytes);
        debug_assert!(written.is_ok());
    }
}
