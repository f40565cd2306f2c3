//! The flow hash: Toeplitz with Microsoft's RSS key against the published
//! RSS verification vectors, and the classifier putting it in `custom0`.

mod common;
use common::*;
use mpipe_emu::{toeplitz, Delivery, FlowHasher, MICROSOFT_RSS_KEY};

/// Source ip, source port, destination ip, destination port, IPv4-only
/// hash, TCP hash.
type Vector = ([u8; 4], u16, [u8; 4], u16, u32, u32);

const IPV4_VECTORS: [Vector; 5] = [
    (
        [66, 9, 149, 187],
        2794,
        [161, 142, 100, 80],
        1766,
        0x323e8fc2,
        0x51ccc178,
    ),
    (
        [199, 92, 111, 2],
        14230,
        [65, 69, 140, 83],
        4739,
        0xd718262a,
        0xc626b0ea,
    ),
    (
        [24, 19, 198, 95],
        12898,
        [12, 22, 207, 184],
        38024,
        0xd2d0a5de,
        0x5c2b394a,
    ),
    (
        [38, 27, 205, 30],
        48228,
        [209, 142, 163, 6],
        2217,
        0x82989176,
        0xafc7327f,
    ),
    (
        [153, 39, 163, 191],
        44251,
        [202, 188, 127, 2],
        1303,
        0x5d1809c5,
        0x10e828a2,
    ),
];

#[test]
fn microsoft_rss_ipv4_vectors() {
    let h = FlowHasher::default();
    assert_eq!(h.key, MICROSOFT_RSS_KEY);
    for (src, sport, dst, dport, ip_only, with_tcp) in IPV4_VECTORS {
        assert_eq!(h.ipv4_pair(src, dst), ip_only, "{src:?} -> {dst:?}");
        assert_eq!(
            h.ipv4_ports(src, dst, sport, dport),
            with_tcp,
            "{src:?} -> {dst:?}"
        );
    }
}

#[test]
fn classifier_hash_is_the_rss_hash_and_picks_the_bucket() {
    let mut s = setup(Opts {
        nbuckets: 256,
        ..Opts::default()
    });
    for (src, sport, dst, dport, ip_only, with_tcp) in IPV4_VECTORS {
        for (frame, want) in [
            (tcp_frame(src, dst, sport, dport, b"x"), with_tcp),
            (udp_frame(src, dst, sport, dport, b"y"), with_tcp),
        ] {
            let r = s.ctx.inject(s.ch, &frame).unwrap();
            assert!(matches!(r, Delivery::Delivered { .. }), "{r:?}");
            let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
            assert_eq!(d.custom0(), want);
            assert_eq!(u32::from(d.bucket_id()), s.bucket0 + (want & 255));
            s.ctx.return_packet_buffers(&d);
        }
        // A non-first fragment hashes by addresses only.
        let mut frag = udp_frame(src, dst, sport, dport, b"zz");
        frag[20] = 0x00;
        frag[21] = 0x10; // fragment offset 16 (×8 bytes)
        let c = etherparse::Ipv4HeaderSlice::from_slice(&frag[14..34])
            .unwrap()
            .to_header()
            .calc_header_checksum();
        frag[24..26].copy_from_slice(&c.to_be_bytes());
        s.ctx.inject(s.ch, &frag).unwrap();
        let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
        assert_eq!(d.custom0(), ip_only);
        assert!(!d.cs(), "no L4 sum on a fragment");
        s.ctx.return_packet_buffers(&d);
    }
}

#[test]
fn key_is_configurable_and_changes_the_hash() {
    let mut key = MICROSOFT_RSS_KEY;
    key[0] ^= 0xFF;
    let (src, sport, dst, dport, _, with_tcp) = IPV4_VECTORS[0];
    let mut input = [0u8; 12];
    input[..4].copy_from_slice(&src);
    input[4..8].copy_from_slice(&dst);
    input[8..10].copy_from_slice(&sport.to_be_bytes());
    input[10..].copy_from_slice(&dport.to_be_bytes());
    assert_eq!(toeplitz(&MICROSOFT_RSS_KEY, &input), with_tcp);
    let other = toeplitz(&key, &input);
    assert_ne!(other, with_tcp);
    let cfg = mpipe_emu::Config {
        hash_key: key,
        ..Default::default()
    };
    let mut s = setup(Opts {
        config: cfg,
        ..Opts::default()
    });
    assert_eq!(
        s.ctx.flow_hasher().ipv4_ports(src, dst, sport, dport),
        other
    );
    s.ctx
        .inject(s.ch, &tcp_frame(src, dst, sport, dport, b"k"))
        .unwrap();
    assert_eq!(s.ctx.iqueue_try_get(s.rings[0]).unwrap().custom0(), other);
}

#[test]
fn non_ip_frames_hash_the_mac_pair() {
    let mut s = setup(Opts::default());
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[2, 0, 0x5E, 0, 0, 0]);
    f[6..12].copy_from_slice(&PEER_MAC);
    f[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());
    s.ctx.inject(s.ch, &f).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(
        d.custom0(),
        FlowHasher::default().mac_pair([2, 0, 0x5E, 0, 0, 0], PEER_MAC)
    );
    assert_eq!(
        (d.c1_ethertype(), d.c1_l4_offset(), d.c1_vlan()),
        (0x88B5, 0, 0xFFFF)
    );
}
