//! Property tests of the wire layer: every `Repr` survives emit → parse,
//! no parser or accessor panics on any bytes, and whatever parses is stable
//! under parse → emit → parse.

use proptest::prelude::*;
use rusty_stack::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr,
    IpProtocol, Ipv4Addr, Ipv4Cidr, Ipv4Packet, Ipv4Repr, MacAddr, TcpFlags, TcpOption, TcpOptions,
    TcpPacket, TcpRepr, TcpSeqNumber,
};

/// 512 cases per property unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn ethernet_repr() -> impl Strategy<Value = EthernetRepr> {
    (mac(), mac(), any::<u16>()).prop_map(|(src, dst, ty)| EthernetRepr {
        src,
        dst,
        ethertype: EtherType::from(ty),
    })
}

fn arp_repr() -> impl Strategy<Value = ArpRepr> {
    (any::<u16>(), mac(), ip(), mac(), ip()).prop_map(
        |(op, source_mac, source_ip, target_mac, target_ip)| ArpRepr {
            operation: ArpOperation::from(op),
            source_mac,
            source_ip,
            target_mac,
            target_ip,
        },
    )
}

fn ipv4_repr() -> impl Strategy<Value = Ipv4Repr> {
    (
        ip(),
        ip(),
        any::<u8>(),
        0usize..3000,
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(
            |(src, dst, protocol, payload_len, ttl, dscp_ecn, ident, dont_frag)| Ipv4Repr {
                src,
                dst,
                protocol: IpProtocol::from(protocol),
                payload_len,
                ttl,
                dscp_ecn,
                ident,
                dont_frag,
            },
        )
}

/// Fields of a `TcpRepr` except the payload, which it borrows.
#[derive(Clone, Debug)]
struct TcpFields {
    src_port: u16,
    dst_port: u16,
    flags: u8,
    seq: u32,
    ack: Option<u32>,
    window_len: u16,
    window_scale: Option<u8>,
    max_seg_size: Option<u16>,
    sack_permitted: bool,
    sack_ranges: Vec<(u32, u32)>,
    timestamp: Option<(u32, u32)>,
}

impl TcpFields {
    fn repr<'a>(&self, payload: &'a [u8]) -> TcpRepr<'a> {
        let mut sack_ranges = [None; 3];
        for (slot, range) in sack_ranges.iter_mut().zip(&self.sack_ranges) {
            *slot = Some(*range);
        }
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            flags: TcpFlags::from_bits(self.flags) - TcpFlags::ACK,
            seq_number: TcpSeqNumber(self.seq),
            ack_number: self.ack.map(TcpSeqNumber),
            window_len: self.window_len,
            window_scale: self.window_scale,
            max_seg_size: self.max_seg_size,
            sack_permitted: self.sack_permitted,
            sack_ranges,
            timestamp: self.timestamp,
            payload,
        }
    }
}

fn tcp_fields() -> impl Strategy<Value = TcpFields> {
    (
        (
            1u16..,
            1u16..,
            any::<u8>(),
            any::<u32>(),
            any::<Option<u32>>(),
            any::<u16>(),
        ),
        (
            any::<Option<u8>>(),
            any::<Option<u16>>(),
            any::<bool>(),
            proptest::collection::vec(any::<(u32, u32)>(), 0..=3),
            any::<Option<(u32, u32)>>(),
        ),
    )
        .prop_map(
            |(
                (src_port, dst_port, flags, seq, ack, window_len),
                (window_scale, max_seg_size, sack_permitted, sack_ranges, timestamp),
            )| TcpFields {
                src_port,
                dst_port,
                flags,
                seq,
                ack,
                window_len,
                window_scale,
                max_seg_size,
                sack_permitted,
                sack_ranges,
                timestamp,
            },
        )
}

fn emit_tcp(repr: &TcpRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
    buf
}

/// Runs every parser and accessor over `data`, and checks that anything
/// that parses is stable under emit → parse. Mirrors the fuzz target.
fn check_bytes(data: &[u8]) {
    // Ethernet.
    let frame = EthernetFrame::new_unchecked(data);
    let _ = (
        frame.src_addr(),
        frame.dst_addr(),
        frame.ethertype(),
        frame.payload(),
    );
    if let Ok(frame) = EthernetFrame::new_checked(data) {
        let repr = EthernetRepr::parse(&frame).unwrap();
        let mut buf = [0u8; 14];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
        assert_eq!(
            EthernetRepr::parse(&EthernetFrame::new_unchecked(&buf[..])),
            Ok(repr)
        );
        assert_eq!(&buf[..], &data[..14]);
    }

    // ARP.
    let arp = ArpPacket::new_unchecked(data);
    let _ = (
        arp.operation(),
        arp.source_hardware_addr(),
        arp.source_protocol_addr(),
        arp.target_hardware_addr(),
        arp.target_protocol_addr(),
    );
    if let Ok(repr) = ArpRepr::parse(&arp) {
        let mut buf = [0u8; 28];
        repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
    }

    // IPv4, as is and with the checksum fixed up.
    let packet = Ipv4Packet::new_unchecked(data);
    let _ = (
        packet.version(),
        packet.header_len(),
        packet.total_len(),
        packet.frag_offset(),
        packet.is_fragment(),
        packet.verify_checksum(),
        packet.options(),
        packet.payload(),
        packet.src_addr(),
    );
    let _ = Ipv4Repr::parse(&packet);
    let mut fixed = data.to_vec();
    Ipv4Packet::new_unchecked(&mut fixed[..]).fill_checksum();
    if let Ok(repr) = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&fixed[..])) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
    }

    // ICMP, as is and with the checksum fixed up.
    let _ = IcmpRepr::parse(&IcmpPacket::new_unchecked(data));
    if let Ok(repr) = IcmpRepr::parse_header(data) {
        let mut buf = [0u8; 8];
        assert_eq!(repr.emit_header(&mut buf), Ok(8));
        assert_eq!(IcmpRepr::parse_header(&buf), Ok(repr));
    }
    let mut fixed = data.to_vec();
    IcmpPacket::new_unchecked(&mut fixed[..]).fill_checksum();
    if let Ok(repr) = IcmpRepr::parse(&IcmpPacket::new_unchecked(&fixed[..])) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut IcmpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(
            IcmpRepr::parse(&IcmpPacket::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
    }

    // TCP: the options iterator over the raw bytes, the header alone, and
    // the whole segment with the checksum fixed up.
    for option in TcpOptions::new(data).flatten() {
        let mut buf = [0u8; 300];
        if let Ok(len) = option.emit(&mut buf) {
            assert_eq!(TcpOption::parse(&buf[..len]).map(|(_, o)| o), Ok(option));
        }
    }
    let packet = TcpPacket::new_unchecked(data);
    let _ = (
        packet.header_len(),
        packet.flags(),
        packet.options(),
        packet.payload(),
    );
    let _ = packet.options_iter().count();
    let _ = TcpRepr::parse(&packet, SRC, DST);
    if let Ok(repr) = TcpRepr::parse_header(data) {
        let mut buf = [0u8; 60];
        let len = repr.emit_header(&mut buf).unwrap();
        assert_eq!(len, repr.header_len());
        assert_eq!(TcpRepr::parse_header(&buf[..len]), Ok(repr));
    }
    let mut fixed = data.to_vec();
    TcpPacket::new_unchecked(&mut fixed[..]).fill_checksum(SRC, DST);
    if let Ok(repr) = TcpRepr::parse(&TcpPacket::new_unchecked(&fixed[..]), SRC, DST) {
        let buf = emit_tcp(&repr);
        assert!(buf.len() <= 60 + repr.payload.len());
        assert_eq!(
            TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), SRC, DST),
            Ok(repr)
        );
    }

    // Setters on a buffer of any length write nothing out of bounds.
    let mut scratch = data.to_vec();
    let mut tcp = TcpPacket::new_unchecked(&mut scratch[..]);
    tcp.set_window_len(1);
    tcp.set_urgent_at(2);
    tcp.set_header_len(60);
    let _ = tcp.options_mut().len() + tcp.payload_mut().len();
    let mut ip = Ipv4Packet::new_unchecked(&mut scratch[..]);
    ip.set_dst_addr(DST);
    ip.set_frag_offset(8);
    let _ = ip.options_mut().len() + ip.payload_mut().len();
    let mut arp = ArpPacket::new_unchecked(&mut scratch[..]);
    arp.set_target_protocol_addr(&[1, 2, 3, 4]);
}

/// Bytes that look like a TCP header: a plausible data offset and an
/// option area made of real option pieces mixed with junk.
fn tcp_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(vec![0u8]),
        Just(vec![1u8]),
        any::<u16>().prop_map(|m| vec![2, 4, (m >> 8) as u8, m as u8]),
        any::<u8>().prop_map(|s| vec![3, 3, s]),
        Just(vec![4u8, 2]),
        (1usize..=4, any::<u8>()).prop_map(|(n, b)| {
            let mut v = vec![5, 2 + 8 * n as u8];
            v.resize(2 + 8 * n, b);
            v
        }),
        any::<[u8; 8]>().prop_map(|t| [&[8u8, 10][..], &t[..]].concat()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    (
        any::<[u8; 20]>(),
        proptest::collection::vec(piece, 0..8),
        proptest::collection::vec(any::<u8>(), 0..20),
    )
        .prop_map(|(mut header, pieces, payload)| {
            let mut options: Vec<u8> = pieces.concat();
            options.truncate(40);
            while !options.len().is_multiple_of(4) {
                options.push(1);
            }
            header[12] = (((20 + options.len()) / 4) << 4) as u8;
            [&header[..], &options[..], &payload[..]].concat()
        })
}

/// Bytes that look like an IPv4 packet: consistent length fields.
fn ipv4_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        0usize..=10,
        proptest::collection::vec(any::<u8>(), 64..120),
        any::<bool>(),
    )
        .prop_map(|(ihl_extra, mut bytes, frag)| {
            let header_len = 20 + 4 * ihl_extra;
            let total = bytes.len() - 3;
            bytes[0] = 0x40 | (5 + ihl_extra) as u8;
            bytes[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            if !frag {
                bytes[6] &= 0xc0;
                bytes[7] = 0;
            }
            assert!(header_len <= total);
            bytes
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ethernet_round_trip(repr in ethernet_repr(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = vec![0u8; repr.buffer_len() + payload.len()];
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&payload);
        let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&frame), Ok(repr));
        prop_assert_eq!(frame.payload(), &payload[..]);
    }

    #[test]
    fn arp_round_trip(repr in arp_repr()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        prop_assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()), Ok(repr));
    }

    #[test]
    fn ipv4_round_trip(repr in ipv4_repr(), padding in 0usize..50) {
        let mut buf = vec![0u8; repr.buffer_len() + padding];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(packet.verify_checksum());
        prop_assert_eq!(packet.payload().len(), repr.payload_len);
        prop_assert_eq!(Ipv4Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn icmp_round_trip(kind in 0u8..3, ident in any::<u16>(), seq_no in any::<u16>(),
                       other in any::<(u8, u8, [u8; 4])>(),
                       data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let repr = match kind {
            0 => IcmpRepr::EchoRequest { ident, seq_no, data: &data },
            1 => IcmpRepr::EchoReply { ident, seq_no, data: &data },
            _ => {
                let (msg_type, code, rest_of_header) = other;
                // Echo types with code 0 parse as echoes, not "Other".
                let code = if matches!(msg_type, 0 | 8) { code.max(1) } else { code };
                IcmpRepr::Other { msg_type, code, rest_of_header, data: &data }
            }
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut IcmpPacket::new_unchecked(&mut buf[..]));
        prop_assert_eq!(IcmpRepr::parse(&IcmpPacket::new_checked(&buf[..]).unwrap()), Ok(repr));
        let mut header = [0u8; 8];
        prop_assert_eq!(repr.emit_header(&mut header), Ok(8));
        let sum = rusty_stack::wire::icmp_checksum(&header, rusty_stack::checksum::ones_sum(&data));
        prop_assert_eq!(sum.to_be_bytes(), [buf[2], buf[3]]);
    }

    #[test]
    fn tcp_round_trip(fields in tcp_fields(), payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let repr = fields.repr(&payload);
        let buf = emit_tcp(&repr);
        prop_assert!(repr.header_len() <= 60 && repr.header_len() % 4 == 0);
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(packet.header_len() as usize, repr.header_len());
        let parsed = TcpRepr::parse(&packet, SRC, DST).unwrap();
        // Everything fits when the packed options fit in 40 bytes; beyond
        // that, trailing SACK blocks are dropped and nothing else.
        let packed = 4 * usize::from(repr.max_seg_size.is_some())
            + 3 * usize::from(repr.window_scale.is_some())
            + 2 * usize::from(repr.sack_permitted)
            + 10 * usize::from(repr.timestamp.is_some())
            + fields.sack_ranges.len().min(3) * 8 + if fields.sack_ranges.is_empty() { 0 } else { 2 };
        if packed <= 40 {
            prop_assert_eq!(parsed, repr);
        } else {
            prop_assert_eq!(TcpRepr { sack_ranges: parsed.sack_ranges, ..repr }, parsed);
            let kept = parsed.sack_ranges.iter().flatten().count();
            prop_assert!(kept < fields.sack_ranges.len());
            prop_assert_eq!(&parsed.sack_ranges[..kept], &repr.sack_ranges[..kept]);
        }
        // The split helpers agree with `emit`.
        let mut header = [0u8; 60];
        let len = repr.emit_header(&mut header).unwrap();
        let sum = rusty_stack::wire::tcp_checksum(SRC, DST, &header[..len],
            rusty_stack::checksum::ones_sum(&payload), payload.len());
        prop_assert_eq!(sum, packet.checksum());
        prop_assert_eq!(&header[..len], &{
            let mut h = buf[..len].to_vec();
            h[16] = 0;
            h[17] = 0;
            h
        }[..]);
        prop_assert_eq!(TcpRepr::parse_header(&header[..len]), Ok(TcpRepr { payload: &[], ..parsed }));
    }

    #[test]
    fn tcp_checksum_across_chained_pieces(fields in tcp_fields(),
                                          payload in proptest::collection::vec(any::<u8>(), 0..300),
                                          cut in any::<usize>()) {
        let repr = fields.repr(&payload);
        let buf = emit_tcp(&repr);
        let cut = cut % (payload.len() + 1);
        let mut sum = rusty_stack::checksum::Checksum::new();
        sum.add_bytes(&payload[..cut]);
        sum.add_bytes(&payload[cut..]);
        let header_len = repr.header_len();
        let check = rusty_stack::wire::tcp_checksum(SRC, DST, &buf[..header_len], sum.sum(), payload.len());
        prop_assert_eq!(check, 0);
    }

    #[test]
    fn seq_number_order_matches_signed_difference(a in any::<u32>(), d in any::<i32>()) {
        let a = TcpSeqNumber(a);
        let b = a + (d as u32 as usize);
        prop_assert_eq!(b - a, d);
        if d > 0 {
            prop_assert!(a < b);
            prop_assert!(b > a);
        } else if d < 0 && d != i32::MIN {
            prop_assert!(b < a);
        } else if d == 0 {
            prop_assert_eq!(a, b);
        } else {
            prop_assert_eq!(a.partial_cmp(&b), None);
        }
    }

    #[test]
    fn cidr_contains_its_range(addr in any::<u32>(), len in 0u8..=32, probe in any::<u32>()) {
        let cidr = Ipv4Cidr::new(Ipv4Addr::from(addr), len).unwrap();
        let mask = u32::from(cidr.netmask());
        prop_assert_eq!(mask.count_ones(), len as u32);
        prop_assert_eq!(cidr.contains(Ipv4Addr::from(probe)), (probe ^ addr) & mask == 0);
        prop_assert!(cidr.contains(cidr.network().addr()));
        if let Some(bcast) = cidr.broadcast() {
            prop_assert!(cidr.contains(bcast));
            prop_assert_eq!(u32::from(bcast) | mask, u32::MAX);
        }
        prop_assert_eq!(cidr.to_string().parse::<Ipv4Cidr>(), Ok(cidr));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
        check_bytes(&data);
    }

    #[test]
    fn tcp_like_bytes_are_stable(data in tcp_like_bytes()) {
        check_bytes(&data);
    }

    #[test]
    fn ipv4_like_bytes_are_stable(data in ipv4_like_bytes()) {
        check_bytes(&data);
    }
}

#[test]
fn short_buffers_never_panic() {
    let data: Vec<u8> = (0..=255u8).collect();
    for len in 0..=80 {
        check_bytes(&data[..len]);
        check_bytes(&vec![0xff; len]);
        check_bytes(&vec![0; len]);
    }
}
