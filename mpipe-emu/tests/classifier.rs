//! The classifier's checks against an independent oracle (etherparse): the
//! IPv4 header checksum decides drop / status, the L4 sum decides `cs` and
//! `csum_seed_val`, and the custom1 metadata points at the headers.

mod common;
use common::*;
use mpipe_emu::{Config, Delivery, InjectDrop};
use proptest::prelude::*;

/// The header's checksum verifies over its bytes as received. (Not
/// `to_header().calc_header_checksum()`: the parsed header drops the
/// reserved flag bit, so a frame with only that bit flipped would pass.)
fn ipv4_header_ok(frame: &[u8]) -> bool {
    let h = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
    etherparse::checksum::Sum16BitWords::new()
        .add_slice(h.slice())
        .ones_complement()
        == 0
}

fn udp_ok(frame: &[u8]) -> bool {
    let ip = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
    let udp = etherparse::UdpHeaderSlice::from_slice(&frame[34..]).unwrap();
    let payload = &frame[42..14 + usize::from(ip.total_len())];
    udp.to_header()
        .calc_checksum_ipv4_raw(ip.source(), ip.destination(), payload)
        .unwrap()
        == udp.checksum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// With drop_bad off, every frame is delivered and its marks agree with
    /// etherparse's verdict on the IPv4 header and UDP checksums; with
    /// drop_bad on, exactly the bad IPv4 headers are dropped.
    #[test]
    fn checksum_verdicts_match_etherparse(
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        sport in any::<u16>(), dport in any::<u16>(),
        flip in proptest::option::of((14usize..300, 0u8..8)),
    ) {
        let mut f = udp_frame([10, 1, 2, 3], [10, 4, 5, 6], sport, dport, &payload);
        if let Some((at, bit)) = flip {
            let at = at.min(f.len() - 1);
            // Keep version/IHL/total length intact so the header parses.
            if !(14..18).contains(&at) {
                f[at] ^= 1 << bit;
            }
        }
        let hdr_ok = ipv4_header_ok(&f);
        let udp_checked = u16::from_be_bytes([f[40], f[41]]) != 0;
        let l4_ok = udp_ok(&f);

        let mut lax = setup(Opts { config: Config { drop_bad: false, ..Config::default() }, ..Opts::default() });
        let r = lax.ctx.inject(lax.ch, &f).unwrap();
        prop_assert!(matches!(r, Delivery::Delivered { .. }), "{:?}", r);
        let d = lax.ctx.iqueue_try_get(lax.rings[0]).unwrap();
        prop_assert_eq!(d.c1_status() & 0x80 != 0, !hdr_ok);
        if hdr_ok && udp_checked && f[23] == 17 && u16::from_be_bytes([f[20], f[21]]) & 0x3FFF == 0 {
            prop_assert!(d.cs());
            prop_assert_eq!(d.csum_start(), 34);
            prop_assert_eq!(d.csum_seed_val() == 0xFFFF, l4_ok);
            prop_assert_eq!(d.is_bad(), !l4_ok);
        } else {
            prop_assert!(!d.cs());
        }

        let mut strict = setup(Opts::default());
        let r = strict.ctx.inject(strict.ch, &f).unwrap();
        if hdr_ok {
            prop_assert!(matches!(r, Delivery::Delivered { .. }), "{:?}", r);
        } else {
            prop_assert_eq!(r, Delivery::Dropped(InjectDrop::BadL3));
        }
    }

    /// TCP: a valid segment verifies (0xFFFF), any flipped payload bit not.
    #[test]
    fn tcp_sum_verifies(payload in proptest::collection::vec(any::<u8>(), 1..300), bit in any::<prop::sample::Index>()) {
        let mut s = setup(Opts::default());
        let f = tcp_frame([1, 2, 3, 4], [5, 6, 7, 8], 1234, 80, &payload);
        s.ctx.inject(s.ch, &f).unwrap();
        let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
        prop_assert!(d.cs() && !d.is_bad());
        prop_assert_eq!((d.csum_seed_val(), d.csum_start(), d.c1_l3_offset(), d.c1_l4_offset()), (0xFFFF, 34, 14, 34));
        prop_assert_eq!(d.c1_ethertype(), 0x0800);
        let mut g = f.clone();
        let i = 54 + bit.index(payload.len());
        g[i] ^= 0x01;
        s.ctx.inject(s.ch, &g).unwrap();
        let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
        prop_assert!(d.cs() && d.is_bad());
        prop_assert!(s.ctx.iqueue_drop_if_bad(&d));
    }
}

#[test]
fn ipv6_udp_offsets_and_sum() {
    let mut s = setup(Opts::default());
    let b = etherparse::PacketBuilder::ethernet2(PEER_MAC, [2, 0, 0x5E, 0, 0, 0])
        .ipv6([0xfe; 16], [0x20; 16], 32)
        .udp(5353, 5353);
    let mut f = Vec::new();
    b.write(&mut f, b"v6 payload").unwrap();
    s.ctx.inject(s.ch, &f).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(
        (d.c1_ethertype(), d.c1_l3_offset(), d.c1_l4_offset()),
        (0x86DD, 14, 54)
    );
    assert!(d.cs() && !d.is_bad());
    assert_eq!(
        d.custom0(),
        s.ctx
            .flow_hasher()
            .ipv6_ports([0xfe; 16], [0x20; 16], 5353, 5353)
    );
}

#[test]
fn vlan_tagged_ipv4_is_parsed_past_the_tag() {
    let mut s = setup(Opts::default());
    let b = etherparse::PacketBuilder::ethernet2(PEER_MAC, [2, 0, 0x5E, 0, 0, 0])
        .single_vlan(etherparse::VlanId::try_new(100).unwrap())
        .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
        .udp(1, 2);
    let mut f = Vec::new();
    b.write(&mut f, b"tagged").unwrap();
    s.ctx.inject(s.ch, &f).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(
        (
            d.c1_vlan(),
            d.c1_ethertype(),
            d.c1_l3_offset(),
            d.c1_l4_offset()
        ),
        (100, 0x0800, 18, 38)
    );
    assert!(d.cs() && !d.is_bad());
    assert_eq!(
        d.custom0(),
        s.ctx
            .flow_hasher()
            .ipv4_ports([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)
    );
}
