//! The receive and transmit paths of the interface allocate nothing after
//! start-up: a counting global allocator watches 10,000 ping round trips
//! (echo request built into a pooled buffer, parsed through cursors,
//! answered, reply parsed) between two interfaces over the pair driver.

use rusty_alloc_counter::{thread_allocations, CountingAllocator};

use rusty_stack::iface::{IfaceEvent, Interface, InterfaceConfig};
use rusty_stack::nic::pair::{pair, PairConfig};
use rusty_stack::nic::Driver;
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn zero_alloc_ping_round_trips() {
    let (mut da, mut db) = pair(&PairConfig::default());
    let ip_b = Ipv4Addr::new(10, 0, 0, 2);
    let mut a = Interface::new(
        &da.capabilities(),
        InterfaceConfig::new(Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap()),
    );
    let mut b = Interface::new(
        &db.capabilities(),
        InterfaceConfig::new(Ipv4Cidr::new(ip_b, 24).unwrap()),
    );
    let mut round = |a: &mut Interface, b: &mut Interface, seq: u16| {
        let now = da.now();
        a.send_ping(&mut da, now, ip_b, 9, seq, 1000).unwrap();
        while a.poll(&mut da, now) | b.poll(&mut db, now) {}
        matches!(a.take_event(), Some(IfaceEvent::EchoReply { seq_no, .. }) if seq_no == seq)
    };
    // Warm-up: ARP resolution, first use of every queue.
    assert!(round(&mut a, &mut b, 0));
    let before = thread_allocations();
    let mut answered = 0;
    for seq in 1..=10_000u16 {
        answered += u32::from(round(&mut a, &mut b, seq));
    }
    let allocations = thread_allocations() - before;
    assert_eq!(answered, 10_000);
    assert_eq!(allocations, 0, "allocations during 10,000 round trips");
    // The counter does count.
    let before = thread_allocations();
    let v = std::hint::black_box(Vec::<u8>::with_capacity(16));
    assert_eq!(thread_allocations(), before + 1);
    drop(v);
}
