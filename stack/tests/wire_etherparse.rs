//! Cross-checks of the wire layer against etherparse, an independent
//! implementation, in both directions:
//!
//! 1. packets built by etherparse from random fields are parsed by our
//!    layer (checksums must verify) and every field is compared;
//! 2. packets emitted by our layer are parsed by etherparse, every field is
//!    compared, and the checksums are recomputed with etherparse's code.

use etherparse::{
    ArpHardwareId, ArpPacketSlice, Ethernet2Header, IcmpEchoHeader, Icmpv4Header, Icmpv4Type,
    IpDscp, IpEcn, IpNumber, Ipv4Header, Ipv4Options, LinkSlice, NetSlice, SlicedPacket, TcpHeader,
    TcpOptionElement, TransportSlice,
};
use proptest::prelude::*;
use rusty_stack::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr,
    IpProtocol, Ipv4Addr, Ipv4Packet, Ipv4Repr, MacAddr, TcpFlags, TcpPacket, TcpRepr,
    TcpSeqNumber,
};

/// 512 cases per property unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

// ---------------------------------------------------------------------------
// Shared random fields

#[derive(Clone, Debug)]
struct IpFields {
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    dscp: u8,
    ecn: u8,
    ident: u16,
    dont_frag: bool,
}

fn ip_fields() -> impl Strategy<Value = IpFields> {
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        0u8..64,
        0u8..4,
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(
            |(eth_src, eth_dst, src, dst, ttl, dscp, ecn, ident, dont_frag)| IpFields {
                eth_src,
                eth_dst,
                src,
                dst,
                ttl,
                dscp,
                ecn,
                ident,
                dont_frag,
            },
        )
}

impl IpFields {
    fn ether_header(&self, ether_type: etherparse::EtherType) -> Ethernet2Header {
        Ethernet2Header {
            source: self.eth_src,
            destination: self.eth_dst,
            ether_type,
        }
    }

    fn ip_header(&self, protocol: IpNumber, payload_len: usize, options: &[u8]) -> Ipv4Header {
        let mut ip = Ipv4Header::new(0, self.ttl, protocol, self.src, self.dst).unwrap();
        ip.dscp = IpDscp::try_new(self.dscp).unwrap();
        ip.ecn = IpEcn::try_new(self.ecn).unwrap();
        ip.identification = self.ident;
        ip.dont_fragment = self.dont_frag;
        ip.options = Ipv4Options::try_from(options).unwrap();
        ip.set_payload_len(payload_len).unwrap();
        ip
    }

    fn ip_repr(&self, protocol: IpProtocol, payload_len: usize) -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::from(self.src),
            dst: Ipv4Addr::from(self.dst),
            protocol,
            payload_len,
            ttl: self.ttl,
            dscp_ecn: self.dscp << 2 | self.ecn,
            ident: self.ident,
            dont_frag: self.dont_frag,
        }
    }

    fn ethernet_repr(&self, ethertype: EtherType) -> EthernetRepr {
        EthernetRepr {
            src: MacAddr(self.eth_src),
            dst: MacAddr(self.eth_dst),
            ethertype,
        }
    }
}

/// IPv4 options: a multiple of 4 bytes, at most 40, arbitrary content.
fn ip_options() -> impl Strategy<Value = Vec<u8>> {
    (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4))
}

/// Checks our Ethernet and IPv4 layers on `frame`, returning the IP payload.
fn parse_ours_eth_ip<'a>(
    frame: &'a [u8],
    fields: &IpFields,
    ethertype: EtherType,
    protocol: IpProtocol,
    ip_options: &[u8],
) -> &'a [u8] {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(
        EthernetRepr::parse(&eth).unwrap(),
        fields.ethernet_repr(ethertype)
    );
    let ip = Ipv4Packet::new_checked(eth.payload_ref()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.options(), ip_options);
    assert_eq!(ip.dscp(), fields.dscp);
    assert_eq!(ip.ecn(), fields.ecn);
    assert!(!ip.is_fragment());
    let payload = ip.payload_ref();
    assert_eq!(
        Ipv4Repr::parse(&ip).unwrap(),
        fields.ip_repr(protocol, payload.len())
    );
    payload
}

/// Emits Ethernet + IPv4 headers with our layer around an IP payload.
fn emit_ours_frame(eth: &EthernetRepr, ip: &Ipv4Repr, ip_payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut eth_frame);
    let mut packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
    ip.emit(&mut packet);
    packet.payload_mut().copy_from_slice(ip_payload);
    frame
}

/// Checks etherparse's view of the Ethernet and IPv4 headers we emitted,
/// including the header checksum recomputed by etherparse.
fn check_etherparse_eth_ip(sliced: &SlicedPacket<'_>, eth: &EthernetRepr, ip: &Ipv4Repr) {
    let Some(LinkSlice::Ethernet2(link)) = &sliced.link else {
        panic!("no Ethernet II header: {:?}", sliced.link)
    };
    assert_eq!(link.source(), eth.src.0);
    assert_eq!(link.destination(), eth.dst.0);
    assert_eq!(link.ether_type().0, u16::from(eth.ethertype));
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("no IPv4: {:?}", sliced.net)
    };
    let header = ipv4.header();
    assert_eq!(header.version(), 4);
    assert_eq!(header.ihl(), 5);
    assert_eq!(header.source(), ip.src.octets());
    assert_eq!(header.destination(), ip.dst.octets());
    assert_eq!(header.ttl(), ip.ttl);
    assert_eq!(header.protocol().0, u8::from(ip.protocol));
    assert_eq!(header.identification(), ip.ident);
    assert_eq!(header.dont_fragment(), ip.dont_frag);
    assert!(!header.more_fragments());
    assert_eq!(header.fragments_offset().value(), 0);
    assert_eq!(header.dcp().value(), ip.dscp_ecn >> 2);
    assert_eq!(header.ecn().value(), ip.dscp_ecn & 3);
    assert_eq!(header.total_len() as usize, ip.buffer_len());
    assert_eq!(
        header.header_checksum(),
        header.to_header().calc_header_checksum()
    );
    assert_eq!(ipv4.payload().payload.len(), ip.payload_len);
}

// ---------------------------------------------------------------------------
// TCP

#[derive(Clone, Debug)]
struct TcpFields {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    urgent: u16,
}

fn tcp_fields() -> impl Strategy<Value = TcpFields> {
    (
        1u16..,
        1u16..,
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(
            |(src_port, dst_port, seq, ack, flags, window, urgent)| TcpFields {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                urgent,
            },
        )
}

fn option_element() -> impl Strategy<Value = TcpOptionElement> {
    prop_oneof![
        Just(TcpOptionElement::Noop),
        any::<u16>().prop_map(TcpOptionElement::MaximumSegmentSize),
        any::<u8>().prop_map(TcpOptionElement::WindowScale),
        Just(TcpOptionElement::SelectiveAcknowledgementPermitted),
        (
            any::<(u32, u32)>(),
            proptest::collection::vec(any::<(u32, u32)>(), 0..=3)
        )
            .prop_map(|(first, rest)| {
                let mut more = [None; 3];
                for (slot, r) in more.iter_mut().zip(rest) {
                    *slot = Some(r);
                }
                TcpOptionElement::SelectiveAcknowledgement(first, more)
            }),
        any::<(u32, u32)>().prop_map(|(a, b)| TcpOptionElement::Timestamp(a, b)),
    ]
}

fn element_len(e: &TcpOptionElement) -> usize {
    match e {
        TcpOptionElement::Noop => 1,
        TcpOptionElement::MaximumSegmentSize(_) => 4,
        TcpOptionElement::WindowScale(_) => 3,
        TcpOptionElement::SelectiveAcknowledgementPermitted => 2,
        TcpOptionElement::SelectiveAcknowledgement(_, rest) => {
            10 + 8 * rest.iter().flatten().count()
        }
        TcpOptionElement::Timestamp(..) => 10,
    }
}

/// A list of option elements that fits in 40 bytes, in random order.
fn option_elements() -> impl Strategy<Value = Vec<TcpOptionElement>> {
    proptest::collection::vec(option_element(), 0..8).prop_map(|mut elements| {
        while elements.iter().map(element_len).sum::<usize>() > 40 {
            elements.pop();
        }
        elements
    })
}

/// The option fields of a `TcpRepr` that a list of elements stands for
/// (the last of duplicated options wins; SACK keeps its first three blocks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct OptionFields {
    window_scale: Option<u8>,
    max_seg_size: Option<u16>,
    sack_permitted: bool,
    sack_ranges: [Option<(u32, u32)>; 3],
    timestamp: Option<(u32, u32)>,
}

impl OptionFields {
    fn from_elements(elements: impl IntoIterator<Item = TcpOptionElement>) -> Self {
        let mut o = OptionFields::default();
        for e in elements {
            match e {
                TcpOptionElement::Noop => {}
                TcpOptionElement::MaximumSegmentSize(m) => o.max_seg_size = Some(m),
                TcpOptionElement::WindowScale(w) => o.window_scale = Some(w),
                TcpOptionElement::SelectiveAcknowledgementPermitted => o.sack_permitted = true,
                TcpOptionElement::SelectiveAcknowledgement(first, [a, b, _]) => {
                    o.sack_ranges = [Some(first), a, b]
                }
                TcpOptionElement::Timestamp(a, b) => o.timestamp = Some((a, b)),
            }
        }
        o
    }

    fn of_repr(r: &TcpRepr<'_>) -> Self {
        OptionFields {
            window_scale: r.window_scale,
            max_seg_size: r.max_seg_size,
            sack_permitted: r.sack_permitted,
            sack_ranges: r.sack_ranges,
            timestamp: r.timestamp,
        }
    }
}

fn etherparse_tcp_header(f: &TcpFields, elements: &[TcpOptionElement]) -> TcpHeader {
    let mut tcp = TcpHeader::new(f.src_port, f.dst_port, f.seq, f.window);
    tcp.acknowledgment_number = f.ack;
    let flags = TcpFlags::from_bits(f.flags);
    tcp.fin = flags.contains(TcpFlags::FIN);
    tcp.syn = flags.contains(TcpFlags::SYN);
    tcp.rst = flags.contains(TcpFlags::RST);
    tcp.psh = flags.contains(TcpFlags::PSH);
    tcp.ack = flags.contains(TcpFlags::ACK);
    tcp.urg = flags.contains(TcpFlags::URG);
    tcp.ece = flags.contains(TcpFlags::ECE);
    tcp.cwr = flags.contains(TcpFlags::CWR);
    tcp.urgent_pointer = f.urgent;
    tcp.set_options(elements).unwrap();
    tcp
}

/// A TCP `Repr` from random fields, with options that may not fit aligned.
fn our_tcp_repr<'a>(f: &TcpFields, o: &OptionFields, payload: &'a [u8]) -> TcpRepr<'a> {
    let flags = TcpFlags::from_bits(f.flags);
    TcpRepr {
        src_port: f.src_port,
        dst_port: f.dst_port,
        flags: flags - TcpFlags::ACK,
        seq_number: TcpSeqNumber(f.seq),
        ack_number: flags.contains(TcpFlags::ACK).then_some(TcpSeqNumber(f.ack)),
        window_len: f.window,
        window_scale: o.window_scale,
        max_seg_size: o.max_seg_size,
        sack_permitted: o.sack_permitted,
        sack_ranges: o.sack_ranges,
        timestamp: o.timestamp,
        payload,
    }
}

fn option_fields() -> impl Strategy<Value = OptionFields> {
    (
        any::<Option<u8>>(),
        any::<Option<u16>>(),
        any::<bool>(),
        proptest::collection::vec(any::<(u32, u32)>(), 0..=3),
        any::<Option<(u32, u32)>>(),
    )
        .prop_map(
            |(window_scale, max_seg_size, sack_permitted, ranges, timestamp)| {
                let mut sack_ranges = [None; 3];
                for (slot, r) in sack_ranges.iter_mut().zip(ranges) {
                    *slot = Some(r);
                }
                OptionFields {
                    window_scale,
                    max_seg_size,
                    sack_permitted,
                    sack_ranges,
                    timestamp,
                }
            },
        )
}

proptest! {
    #![proptest_config(config())]

    /// etherparse builds Ethernet + IPv4 (with options) + TCP (with
    /// options) + payload + Ethernet padding; our layer parses it.
    #[test]
    fn tcp_from_etherparse(ipf in ip_fields(), ip_opts in ip_options(), tf in tcp_fields(),
                           elements in option_elements(),
                           payload in proptest::collection::vec(any::<u8>(), 0..100),
                           padding in 0usize..20) {
        let mut tcp = etherparse_tcp_header(&tf, &elements);
        let ip = ipf.ip_header(IpNumber::TCP, tcp.header_len() + payload.len(), &ip_opts);
        tcp.checksum = tcp.calc_checksum_ipv4(&ip, &payload).unwrap();
        let mut frame = Vec::new();
        ipf.ether_header(etherparse::EtherType::IPV4).write(&mut frame).unwrap();
        ip.write(&mut frame).unwrap();
        tcp.write(&mut frame).unwrap();
        frame.extend_from_slice(&payload);
        frame.resize(frame.len() + padding, 0);

        let segment = parse_ours_eth_ip(&frame, &ipf, EtherType::Ipv4, IpProtocol::Tcp, &ip_opts);
        let (src, dst) = (Ipv4Addr::from(ipf.src), Ipv4Addr::from(ipf.dst));
        let packet = TcpPacket::new_checked(segment).unwrap();
        prop_assert!(packet.verify_checksum(src, dst));
        prop_assert_eq!(packet.header_len() as usize, tcp.header_len());
        prop_assert_eq!(packet.flags().bits(), tf.flags);
        prop_assert_eq!(packet.urgent_at(), tf.urgent);
        prop_assert_eq!(packet.options(), tcp.options.as_slice());
        prop_assert_eq!(packet.payload(), &payload[..]);
        let repr = TcpRepr::parse(&packet, src, dst).unwrap();
        let options = OptionFields::from_elements(elements.iter().cloned());
        prop_assert_eq!(repr, our_tcp_repr(&tf, &options, &payload));
        // The header-only parse agrees.
        prop_assert_eq!(TcpRepr::parse_header(segment), Ok(TcpRepr { payload: &[], ..repr }));
        // Every option etherparse wrote is seen by our iterator, in order.
        let ours: Vec<_> = packet.options_iter().map(Result::unwrap)
            .filter(|o| *o != rusty_stack::wire::TcpOption::EndOfList).collect();
        prop_assert_eq!(ours.len(), elements.len());
    }

    /// Our layer emits Ethernet + IPv4 + TCP; etherparse parses it and
    /// recomputes both checksums.
    #[test]
    fn tcp_to_etherparse(ipf in ip_fields(), tf in tcp_fields(), opts in option_fields(),
                         payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let tcp = our_tcp_repr(&tf, &opts, &payload);
        let mut segment = vec![0u8; tcp.buffer_len()];
        let (src, dst) = (Ipv4Addr::from(ipf.src), Ipv4Addr::from(ipf.dst));
        tcp.emit(&mut TcpPacket::new_unchecked(&mut segment[..]), src, dst);
        let eth = ipf.ethernet_repr(EtherType::Ipv4);
        let ip = ipf.ip_repr(IpProtocol::Tcp, segment.len());
        let frame = emit_ours_frame(&eth, &ip, &segment);

        let sliced = SlicedPacket::from_ethernet(&frame).unwrap();
        check_etherparse_eth_ip(&sliced, &eth, &ip);
        let Some(TransportSlice::Tcp(t)) = &sliced.transport else { panic!("no TCP") };
        prop_assert_eq!(t.source_port(), tcp.src_port);
        prop_assert_eq!(t.destination_port(), tcp.dst_port);
        prop_assert_eq!(t.sequence_number(), tcp.seq_number.0);
        prop_assert_eq!(t.ack(), tcp.ack_number.is_some());
        prop_assert_eq!(t.acknowledgment_number(), tcp.ack_number.map_or(0, |a| a.0));
        prop_assert_eq!((t.fin(), t.syn(), t.rst(), t.psh()), (
            tf.flags & 1 != 0, tf.flags & 2 != 0, tf.flags & 4 != 0, tf.flags & 8 != 0));
        prop_assert_eq!((t.urg(), t.ece(), t.cwr(), t.ns()), (
            tf.flags & 0x20 != 0, tf.flags & 0x40 != 0, tf.flags & 0x80 != 0, false));
        prop_assert_eq!(t.window_size(), tcp.window_len);
        prop_assert_eq!(t.urgent_pointer(), 0);
        prop_assert_eq!(t.data_offset() as usize * 4, tcp.header_len());
        prop_assert_eq!(t.payload(), &payload[..]);
        prop_assert_eq!(t.checksum(), t.calc_checksum_ipv4(ipf.src, dst.octets()).unwrap());
        let elements: Vec<_> = t.options_iterator().map(Result::unwrap).collect();
        let seen = OptionFields::from_elements(elements);
        // All options fit, except trailing SACK blocks beyond what the
        // packed layout can hold (40 bytes).
        let expect = OptionFields::of_repr(&tcp);
        prop_assert_eq!(OptionFields { sack_ranges: expect.sack_ranges, ..seen }, expect);
        let kept = seen.sack_ranges.iter().flatten().count();
        prop_assert_eq!(&seen.sack_ranges[..kept], &expect.sack_ranges[..kept]);
        let blocks = expect.sack_ranges.iter().flatten().count();
        let packed = 4 * usize::from(opts.max_seg_size.is_some())
            + 3 * usize::from(opts.window_scale.is_some())
            + 2 * usize::from(opts.sack_permitted)
            + 10 * usize::from(opts.timestamp.is_some())
            + if blocks > 0 { 2 + 8 * blocks } else { 0 };
        if packed <= 40 {
            prop_assert_eq!(seen.sack_ranges, expect.sack_ranges);
        }
    }
}

// ---------------------------------------------------------------------------
// ICMP

proptest! {
    #![proptest_config(config())]

    /// etherparse builds an ICMP echo request/reply or an unknown type;
    /// our layer parses it.
    #[test]
    fn icmp_from_etherparse(ipf in ip_fields(), ip_opts in ip_options(), kind in 0u8..3,
                            id in any::<u16>(), seq in any::<u16>(), other_type in 40u8..=252,
                            code in any::<u8>(), rest in any::<[u8; 4]>(),
                            data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let echo = IcmpEchoHeader { id, seq };
        let icmp_type = match kind {
            0 => Icmpv4Type::EchoRequest(echo),
            1 => Icmpv4Type::EchoReply(echo),
            _ => Icmpv4Type::Unknown { type_u8: other_type, code_u8: code, bytes5to8: rest },
        };
        let icmp = Icmpv4Header::with_checksum(icmp_type, &data);
        let ip = ipf.ip_header(IpNumber::ICMP, icmp.header_len() + data.len(), &ip_opts);
        let mut frame = Vec::new();
        ipf.ether_header(etherparse::EtherType::IPV4).write(&mut frame).unwrap();
        ip.write(&mut frame).unwrap();
        icmp.write(&mut frame).unwrap();
        frame.extend_from_slice(&data);

        let message = parse_ours_eth_ip(&frame, &ipf, EtherType::Ipv4, IpProtocol::Icmp, &ip_opts);
        let packet = IcmpPacket::new_checked(message).unwrap();
        prop_assert!(packet.verify_checksum());
        prop_assert_eq!(packet.checksum(), icmp.checksum);
        let expected = match kind {
            0 => IcmpRepr::EchoRequest { ident: id, seq_no: seq, data: &data },
            1 => IcmpRepr::EchoReply { ident: id, seq_no: seq, data: &data },
            _ => IcmpRepr::Other { msg_type: other_type, code, rest_of_header: rest, data: &data },
        };
        prop_assert_eq!(IcmpRepr::parse(&packet), Ok(expected));
    }

    /// Our layer emits an ICMP echo; etherparse parses it and recomputes
    /// the checksum.
    #[test]
    fn icmp_to_etherparse(ipf in ip_fields(), request in any::<bool>(), ident in any::<u16>(),
                          seq_no in any::<u16>(),
                          data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let icmp = if request {
            IcmpRepr::EchoRequest { ident, seq_no, data: &data }
        } else {
            IcmpRepr::EchoReply { ident, seq_no, data: &data }
        };
        let mut message = vec![0u8; icmp.buffer_len()];
        icmp.emit(&mut IcmpPacket::new_unchecked(&mut message[..]));
        let eth = ipf.ethernet_repr(EtherType::Ipv4);
        let ip = ipf.ip_repr(IpProtocol::Icmp, message.len());
        let frame = emit_ours_frame(&eth, &ip, &message);

        let sliced = SlicedPacket::from_ethernet(&frame).unwrap();
        check_etherparse_eth_ip(&sliced, &eth, &ip);
        let Some(TransportSlice::Icmpv4(i)) = &sliced.transport else { panic!("no ICMP") };
        let echo = IcmpEchoHeader { id: ident, seq: seq_no };
        let expected = if request { Icmpv4Type::EchoRequest(echo) } else { Icmpv4Type::EchoReply(echo) };
        prop_assert_eq!(i.icmp_type(), expected);
        prop_assert_eq!(i.code_u8(), 0);
        prop_assert_eq!(i.payload(), &data[..]);
        prop_assert_eq!(i.checksum(), i.icmp_type().calc_checksum(i.payload()));
    }
}

// ---------------------------------------------------------------------------
// ARP

proptest! {
    #![proptest_config(config())]

    /// etherparse builds an Ethernet/IPv4 ARP packet; our layer parses it.
    #[test]
    fn arp_from_etherparse(ipf in ip_fields(), op in any::<u16>(),
                           sha in any::<[u8; 6]>(), spa in any::<[u8; 4]>(),
                           tha in any::<[u8; 6]>(), tpa in any::<[u8; 4]>(),
                           padding in 0usize..18) {
        let arp = etherparse::ArpPacket::new(
            ArpHardwareId::ETHERNET,
            etherparse::EtherType::IPV4,
            etherparse::ArpOperation(op),
            &sha, &spa, &tha, &tpa,
        ).unwrap();
        let mut frame = Vec::new();
        ipf.ether_header(etherparse::EtherType::ARP).write(&mut frame).unwrap();
        frame.extend_from_slice(&arp.to_bytes());
        frame.resize(frame.len() + padding, 0);

        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&eth).unwrap(), ipf.ethernet_repr(EtherType::Arp));
        let packet = ArpPacket::new_checked(eth.payload_ref()).unwrap();
        prop_assert_eq!(ArpRepr::parse(&packet), Ok(ArpRepr {
            operation: ArpOperation::from(op),
            source_mac: MacAddr(sha),
            source_ip: Ipv4Addr::from(spa),
            target_mac: MacAddr(tha),
            target_ip: Ipv4Addr::from(tpa),
        }));
    }

    /// Our layer emits an ARP packet; etherparse parses it.
    #[test]
    fn arp_to_etherparse(ipf in ip_fields(), op in any::<u16>(),
                         sha in any::<[u8; 6]>(), spa in any::<[u8; 4]>(),
                         tha in any::<[u8; 6]>(), tpa in any::<[u8; 4]>()) {
        let repr = ArpRepr {
            operation: ArpOperation::from(op),
            source_mac: MacAddr(sha),
            source_ip: Ipv4Addr::from(spa),
            target_mac: MacAddr(tha),
            target_ip: Ipv4Addr::from(tpa),
        };
        let eth = ipf.ethernet_repr(EtherType::Arp);
        let mut frame = vec![0u8; 14 + repr.buffer_len()];
        let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut eth_frame);
        repr.emit(&mut ArpPacket::new_unchecked(eth_frame.payload_mut()));

        let sliced = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(NetSlice::Arp(a)) = &sliced.net else { panic!("no ARP: {:?}", sliced.net) };
        check_arp_slice(a, op, &sha, &spa, &tha, &tpa);
        let direct = ArpPacketSlice::from_slice(&frame[14..]).unwrap();
        check_arp_slice(&direct, op, &sha, &spa, &tha, &tpa);
    }
}

fn check_arp_slice(
    a: &ArpPacketSlice<'_>,
    op: u16,
    sha: &[u8],
    spa: &[u8],
    tha: &[u8],
    tpa: &[u8],
) {
    assert_eq!(a.hw_addr_type(), ArpHardwareId::ETHERNET);
    assert_eq!(a.proto_addr_type(), etherparse::EtherType::IPV4);
    assert_eq!((a.hw_addr_size(), a.proto_addr_size()), (6, 4));
    assert_eq!(a.operation().0, op);
    assert_eq!(a.sender_hw_addr(), sha);
    assert_eq!(a.sender_protocol_addr(), spa);
    assert_eq!(a.target_hw_addr(), tha);
    assert_eq!(a.target_protocol_addr(), tpa);
}

/// A fixed Linux SYN built by etherparse parses with every option.
#[test]
fn linux_syn_from_etherparse() {
    let mut tcp = TcpHeader::new(54321, 80, 0x6b8b_4567, 64240);
    tcp.syn = true;
    tcp.set_options(&[
        TcpOptionElement::MaximumSegmentSize(1460),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
        TcpOptionElement::Timestamp(2_772_125, 0),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ])
    .unwrap();
    let (src, dst) = ([192, 168, 1, 100], [93, 184, 216, 34]);
    tcp.checksum = tcp.calc_checksum_ipv4_raw(src, dst, &[]).unwrap();
    let bytes = tcp.to_bytes();
    let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
    let repr = TcpRepr::parse(&packet, Ipv4Addr::from(src), Ipv4Addr::from(dst)).unwrap();
    assert_eq!(repr.max_seg_size, Some(1460));
    assert_eq!(repr.window_scale, Some(7));
    assert!(repr.sack_permitted);
    assert_eq!(repr.timestamp, Some((2_772_125, 0)));
    assert_eq!(repr.flags, TcpFlags::SYN);
    assert_eq!(repr.ack_number, None);
    // Our emit of the same Repr is byte-identical to etherparse's.
    let mut ours = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut ours[..]),
        Ipv4Addr::from(src),
        Ipv4Addr::from(dst),
    );
    assert_eq!(&ours[..], &bytes[..]);
}
