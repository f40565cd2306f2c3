//! Feeds arbitrary bytes to every wire parser and accessor of rusty-stack.
//!
//! Checks that nothing panics, and that whatever parses is stable: emitting
//! the parsed `Repr` and parsing the result gives the same `Repr`. Because
//! random bytes rarely carry a valid checksum, IPv4, ICMP and TCP are also
//! tried on a copy whose checksum was fixed up first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rusty_stack::wire::{
    ArpPacket, ArpRepr, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr, Ipv4Addr, Ipv4Packet,
    Ipv4Repr, TcpOption, TcpOptions, TcpPacket, TcpRepr,
};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn ethernet(data: &[u8]) {
    let frame = EthernetFrame::new_unchecked(data);
    let _ = (
        frame.src_addr(),
        frame.dst_addr(),
        frame.ethertype(),
        frame.payload(),
    );
    if let Ok(frame) = EthernetFrame::new_checked(data) {
        let repr = EthernetRepr::parse(&frame).expect("checked frame parses");
        let mut buf = [0u8; 14];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
        assert_eq!(
            EthernetRepr::parse(&EthernetFrame::new_unchecked(&buf[..])),
            Ok(repr)
        );
    }
}

fn arp(data: &[u8]) {
    let packet = ArpPacket::new_unchecked(data);
    let _ = (
        packet.operation(),
        packet.packet_len(),
        packet.source_hardware_addr(),
        packet.source_protocol_addr(),
        packet.target_hardware_addr(),
        packet.target_protocol_addr(),
    );
    let _ = ArpPacket::new_checked(data);
    if let Ok(repr) = ArpRepr::parse(&packet) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        let again = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).expect("emitted ARP"));
        assert_eq!(again, Ok(repr));
    }
}

fn ipv4(data: &[u8]) {
    let packet = Ipv4Packet::new_unchecked(data);
    let _ = (
        packet.version(),
        packet.header_len(),
        packet.dscp(),
        packet.ecn(),
        packet.total_len(),
        packet.ident(),
        packet.dont_frag(),
        packet.more_frags(),
        packet.frag_offset(),
        packet.is_fragment(),
        packet.ttl(),
        packet.protocol(),
        packet.checksum(),
        packet.src_addr(),
        packet.dst_addr(),
        packet.verify_checksum(),
        packet.options(),
        packet.payload(),
    );
    let _ = Ipv4Packet::new_checked(data);
    let _ = Ipv4Repr::parse(&packet);
    let mut fixed = data.to_vec();
    Ipv4Packet::new_unchecked(&mut fixed[..]).fill_checksum();
    if let Ok(repr) = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&fixed[..])) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]));
        let again = Ipv4Repr::parse(&Ipv4Packet::new_checked(&buf[..]).expect("emitted IPv4"));
        assert_eq!(again, Ok(repr));
    }
}

fn icmp(data: &[u8]) {
    let packet = IcmpPacket::new_unchecked(data);
    let _ = (
        packet.msg_type(),
        packet.msg_code(),
        packet.echo_ident(),
        packet.data(),
    );
    let _ = IcmpRepr::parse(&packet);
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
        let again = IcmpRepr::parse(&IcmpPacket::new_checked(&buf[..]).expect("emitted ICMP"));
        assert_eq!(again, Ok(repr));
    }
}

fn tcp(data: &[u8]) {
    // The options iterator over raw bytes; each option re-emits to itself.
    for option in TcpOptions::new(data).flatten() {
        let mut buf = [0u8; 300];
        if let Ok(len) = option.emit(&mut buf) {
            assert_eq!(TcpOption::parse(&buf[..len]).map(|(_, o)| o), Ok(option));
        }
    }
    let packet = TcpPacket::new_unchecked(data);
    let _ = (
        packet.src_port(),
        packet.seq_number(),
        packet.header_len(),
        packet.flags(),
        packet.window_len(),
        packet.options(),
        packet.payload(),
        packet.segment_len(),
        packet.verify_checksum(SRC, DST),
    );
    let _ = packet.options_iter().count();
    let _ = TcpPacket::new_checked(data);
    let _ = TcpRepr::parse(&packet, SRC, DST);

    // Header only, no checksum.
    if let Ok(repr) = TcpRepr::parse_header(data) {
        let mut buf = [0u8; 60];
        let len = repr
            .emit_header(&mut buf)
            .expect("a header fits in 60 bytes");
        assert_eq!(len, repr.header_len());
        assert_eq!(TcpRepr::parse_header(&buf[..len]), Ok(repr));
    }

    // Whole segment, with the checksum fixed up.
    let mut fixed = data.to_vec();
    TcpPacket::new_unchecked(&mut fixed[..]).fill_checksum(SRC, DST);
    if let Ok(repr) = TcpRepr::parse(&TcpPacket::new_unchecked(&fixed[..]), SRC, DST) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        let again = TcpRepr::parse(
            &TcpPacket::new_checked(&buf[..]).expect("emitted TCP"),
            SRC,
            DST,
        );
        assert_eq!(again, Ok(repr));
    }
}

/// Setters on a buffer of any length must not write out of bounds.
fn setters(data: &[u8]) {
    let mut scratch = data.to_vec();
    let mut tcp = TcpPacket::new_unchecked(&mut scratch[..]);
    tcp.set_window_len(1);
    tcp.set_header_len(60);
    let _ = tcp.options_mut().len() + tcp.payload_mut().len();
    let mut ip = Ipv4Packet::new_unchecked(&mut scratch[..]);
    ip.set_dst_addr(DST);
    ip.set_frag_offset(8);
    let _ = ip.options_mut().len() + ip.payload_mut().len();
    let mut arp = ArpPacket::new_unchecked(&mut scratch[..]);
    arp.set_target_protocol_addr(&[1, 2, 3, 4]);
    let mut icmp = IcmpPacket::new_unchecked(&mut scratch[..]);
    icmp.set_echo_seq_no(3);
    let _ = icmp.data_mut().len();
}

fuzz_target!(|data: &[u8]| {
    ethernet(data);
    arp(data);
    ipv4(data);
    icmp(data);
    tcp(data);
    setters(data);
    // The layers as they nest in a frame.
    if let Ok(frame) = EthernetFrame::new_checked(data) {
        let payload = frame.payload_ref();
        arp(payload);
        ipv4(payload);
        if let Ok(packet) = Ipv4Packet::new_checked(payload) {
            icmp(packet.payload_ref());
            tcp(packet.payload_ref());
        }
    }
});
