//! The receive and transmit paths of the interface allocate nothing after
//! start-up: a counting global allocator watches 10,000 ping round trips
//! (echo request built into a pooled buffer, parsed through cursors,
//! answered, reply parsed) between two interfaces over the pair driver.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use rusty_stack::driver::Driver;
use rusty_stack::iface::{IfaceEvent, Interface, InterfaceConfig};
use rusty_stack::pair::{pair, PairConfig};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn zero_alloc_ping_round_trips() {
    let (mut da, mut db) = pair(&PairConfig::default());
    let ip_b = Ipv4Addr::new(10, 0, 0, 2);
    let mut a = Interface::new(InterfaceConfig::new(
        da.mac(),
        Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap(),
    ));
    let mut b = Interface::new(InterfaceConfig::new(
        db.mac(),
        Ipv4Cidr::new(ip_b, 24).unwrap(),
    ));
    let mut round = |a: &mut Interface, b: &mut Interface, seq: u16| {
        let now = da.now();
        a.send_ping(&mut da, now, ip_b, 9, seq, 1000).unwrap();
        while a.poll(&mut da, now) | b.poll(&mut db, now) {}
        matches!(a.take_event(), Some(IfaceEvent::EchoReply { seq_no, .. }) if seq_no == seq)
    };
    // Warm-up: ARP resolution, first use of every queue.
    assert!(round(&mut a, &mut b, 0));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut answered = 0;
    for seq in 1..=10_000u16 {
        answered += u32::from(round(&mut a, &mut b, seq));
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(answered, 10_000);
    assert_eq!(allocations, 0, "allocations during 10,000 round trips");
    // The counter does count.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let v = std::hint::black_box(Vec::<u8>::with_capacity(16));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), before + 1);
    drop(v);
}
