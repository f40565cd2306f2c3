//! smoltcp, an independent TCP/IP stack, as a peer of Rusty: the device
//! shared by the simulator's smoltcp hosts, and a host for the two-host
//! harness ([`crate::hosts::interop`]).
//!
//! * [`QueueDevice`] — a smoltcp [`Device`] over two frame queues, with an
//!   Ethernet medium, every checksum computed and verified in software, and
//!   a per-poll receive budget; [`crate::hosts::smoltcp`] runs one per
//!   interface;
//! * [`SmolPeer`] — a smoltcp [`Interface`], its [`SocketSet`] and a
//!   [`QueueDevice`] (1514-byte frames) on one side of an interop net, with
//!   helpers for TCP and ICMP sockets.
//!
//! smoltcp time is the simulator's virtual time in whole microseconds
//! ([`to_smol`], [`from_smol`]).

use std::collections::VecDeque;

use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Addr, MacAddr};
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{icmp, tcp};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr, IpEndpoint,
    IpListenEndpoint,
};

use crate::hosts::interop::Host;

/// The largest Ethernet frame a [`SmolPeer`] carries (1500-byte MTU).
pub const FRAME_MTU: usize = 1514;

/// Length of an Ethernet II header.
const ETHERNET_HEADER: usize = 14;

/// smoltcp's view of a virtual instant (whole microseconds).
pub fn to_smol(now: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(now.as_nanos() / 1000).unwrap_or(i64::MAX))
}

/// A virtual instant from a smoltcp instant (negative clamps to zero).
pub fn from_smol(at: smoltcp::time::Instant) -> Instant {
    Instant::from_micros(u64::try_from(at.total_micros()).unwrap_or(0))
}

/// Frame counts of a [`QueueDevice`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    /// Frames handed to smoltcp.
    pub rx_frames: u64,
    /// Bytes of the frames handed to smoltcp.
    pub rx_bytes: u64,
    /// Frames smoltcp transmitted.
    pub tx_frames: u64,
    /// Bytes of the frames smoltcp transmitted.
    pub tx_bytes: u64,
}

/// A smoltcp device over two queues: frames delivered to it (at most
/// `budget` taken, each taking one off the budget) and frames smoltcp
/// sent.
#[derive(Debug)]
pub struct QueueDevice {
    /// Frames waiting to be received.
    pub rx: VecDeque<Vec<u8>>,
    /// Frames transmitted, until the owner takes them.
    pub tx: Vec<Vec<u8>>,
    /// Frames smoltcp may still receive; `usize::MAX` for no limit.
    pub budget: usize,
    /// IP MTU (the frame MTU is 14 bytes more).
    pub mtu: usize,
    /// Frame counts.
    pub counts: DeviceCounts,
}

impl QueueDevice {
    /// An empty device with IP MTU `mtu` and no receive budget limit.
    pub fn new(mtu: usize) -> Self {
        QueueDevice {
            rx: VecDeque::new(),
            tx: Vec::new(),
            budget: usize::MAX,
            mtu,
            counts: DeviceCounts::default(),
        }
    }
}

/// Receive token of a [`QueueDevice`].
#[doc(hidden)]
pub struct RxToken(Vec<u8>);

/// Transmit token of a [`QueueDevice`].
#[doc(hidden)]
pub struct TxToken<'a> {
    tx: &'a mut Vec<Vec<u8>>,
    counts: &'a mut DeviceCounts,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        self.counts.tx_frames += 1;
        self.counts.tx_bytes += len as u64;
        self.tx.push(frame);
        result
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(
        &mut self,
        _timestamp: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if self.budget == 0 {
            return None;
        }
        let frame = self.rx.pop_front()?;
        self.budget -= 1;
        self.counts.rx_frames += 1;
        self.counts.rx_bytes += frame.len() as u64;
        Some((
            RxToken(frame),
            TxToken {
                tx: &mut self.tx,
                counts: &mut self.counts,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken {
            tx: &mut self.tx,
            counts: &mut self.counts,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + ETHERNET_HEADER;
        caps.checksum = ChecksumCapabilities::default();
        caps
    }
}

/// An ICMP echo reply read from a smoltcp ICMP socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EchoReply {
    /// Who answered.
    pub from: Ipv4Addr,
    /// Identifier.
    pub ident: u16,
    /// Sequence number.
    pub seq_no: u16,
    /// Echo data.
    pub data: Vec<u8>,
}

/// A smoltcp host on one side of a [`InteropNet`](crate::hosts::interop::InteropNet)'s link:
/// interface, sockets and device.
pub struct SmolPeer {
    /// The smoltcp interface.
    pub iface: Interface,
    /// Its sockets.
    pub sockets: SocketSet<'static>,
    /// The device joining it to the link.
    pub device: QueueDevice,
    now: Instant,
    next_local_port: u16,
    syns_absorbed: u64,
}

impl core::fmt::Debug for SmolPeer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmolPeer")
            .field("addrs", &self.iface.ip_addrs())
            .field("device", &self.device)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl SmolPeer {
    /// A host with MAC `mac` and address `ip/prefix_len`; `seed` seeds
    /// smoltcp's ISNs and ephemeral choices (see
    /// [`smoltcp_seed`](crate::hosts::interop::smoltcp_seed)).
    pub fn new(mac: MacAddr, ip: Ipv4Addr, prefix_len: u8, seed: u64) -> Self {
        let mut device = QueueDevice::new(FRAME_MTU - ETHERNET_HEADER);
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac.0)));
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, to_smol(Instant::ZERO));
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::Ipv4(ip), prefix_len))
                .expect("one address fits");
        });
        SmolPeer {
            iface,
            sockets: SocketSet::new(Vec::new()),
            device,
            now: Instant::ZERO,
            next_local_port: 49152,
            syns_absorbed: 0,
        }
    }

    /// The virtual time of the last poll.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Retransmitted SYNs kept from smoltcp because a socket already owns
    /// their 4-tuple (see [`SmolPeer`]'s `deliver`: a SYN for a tuple a
    /// non-listening socket owns never reaches smoltcp).
    pub fn syns_absorbed(&self) -> u64 {
        self.syns_absorbed
    }

    /// Whether `frame` is a SYN (without ACK) for a 4-tuple that a
    /// non-listening socket already owns. smoltcp hands a segment to the
    /// first socket that accepts it (`iface/interface/tcp.rs`), and a
    /// listening socket accepts any SYN, so a retransmitted SYN can reach a
    /// listener ahead of the connection's own socket and open a second
    /// connection with another ISN for the same 4-tuple; its SYN-ACK then
    /// draws a challenge ACK from the peer (RFC 5961 §4), which that second
    /// socket answers with a RST the peer must accept. A correct demux gives
    /// the SYN to the socket that owns the tuple, which has answered it
    /// already and retransmits its SYN-ACK on its own timer, so the harness
    /// drops such SYNs before smoltcp sees them.
    fn owned_syn(&mut self, frame: &[u8]) -> bool {
        use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket};
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return false;
        };
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return false;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return false;
        };
        if ip.next_header() != IpProtocol::Tcp {
            return false;
        }
        let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
            return false;
        };
        if !tcp.syn() || tcp.ack() {
            return false;
        }
        let remote = IpEndpoint::new(IpAddress::Ipv4(ip.src_addr()), tcp.src_port());
        let local = IpEndpoint::new(IpAddress::Ipv4(ip.dst_addr()), tcp.dst_port());
        self.sockets
            .iter()
            .filter_map(|(_, socket)| match socket {
                smoltcp::socket::Socket::Tcp(tcp) => Some(tcp),
                _ => None,
            })
            .any(|socket| {
                socket.state() != tcp::State::Listen
                    && socket.state() != tcp::State::Closed
                    && socket.remote_endpoint() == Some(remote)
                    && socket.local_endpoint() == Some(local)
            })
    }

    /// A TCP socket with buffers of `rx_len` and `tx_len` bytes, Nagle
    /// off (the echo tests want small segments out at once).
    fn tcp_socket(rx_len: usize, tx_len: usize) -> tcp::Socket<'static> {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; rx_len]),
            tcp::SocketBuffer::new(vec![0; tx_len]),
        );
        socket.set_nagle_enabled(false);
        socket
    }

    /// A TCP socket listening on `port`.
    pub fn add_tcp_listener(&mut self, port: u16, rx_len: usize, tx_len: usize) -> SocketHandle {
        let mut socket = Self::tcp_socket(rx_len, tx_len);
        socket.listen(port).expect("listen on a fresh socket");
        self.sockets.add(socket)
    }

    /// A TCP socket connecting to `addr:port` from the next local port
    /// (49152 upwards).
    pub fn add_tcp_client(
        &mut self,
        addr: Ipv4Addr,
        port: u16,
        rx_len: usize,
        tx_len: usize,
    ) -> SocketHandle {
        let mut socket = Self::tcp_socket(rx_len, tx_len);
        let local = self.next_local_port;
        self.next_local_port = self.next_local_port.wrapping_add(1).max(49152);
        socket
            .connect(
                self.iface.context(),
                IpEndpoint::new(IpAddress::Ipv4(addr), port),
                IpListenEndpoint::from(local),
            )
            .expect("connect on a fresh socket");
        self.sockets.add(socket)
    }

    /// The TCP socket `handle`.
    pub fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(handle)
    }

    /// An ICMP socket bound to echo identifier `ident`, holding `packets`
    /// packets of up to 2048 bytes each way.
    pub fn add_icmp_socket(&mut self, ident: u16, packets: usize) -> SocketHandle {
        let buffer = || {
            icmp::PacketBuffer::new(
                vec![icmp::PacketMetadata::EMPTY; packets],
                vec![0; packets * 2048],
            )
        };
        let mut socket = icmp::Socket::new(buffer(), buffer());
        socket
            .bind(icmp::Endpoint::Ident(ident))
            .expect("bind a fresh socket");
        self.sockets.add(socket)
    }

    /// Queues an echo request on ICMP socket `handle`.
    pub fn send_ping(
        &mut self,
        handle: SocketHandle,
        dst: Ipv4Addr,
        ident: u16,
        seq_no: u16,
        data: &[u8],
    ) -> Result<(), icmp::SendError> {
        let repr = Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data,
        };
        let socket = self.sockets.get_mut::<icmp::Socket>(handle);
        let buf = socket.send(repr.buffer_len(), IpAddress::Ipv4(dst))?;
        repr.emit(
            &mut Icmpv4Packet::new_unchecked(buf),
            &ChecksumCapabilities::default(),
        );
        Ok(())
    }

    /// The next echo reply received on ICMP socket `handle` (other ICMP
    /// messages are skipped).
    pub fn recv_ping(&mut self, handle: SocketHandle) -> Option<EchoReply> {
        let socket = self.sockets.get_mut::<icmp::Socket>(handle);
        loop {
            let (bytes, from) = socket.recv().ok()?;
            let Ok(packet) = Icmpv4Packet::new_checked(bytes) else {
                continue;
            };
            let Ok(repr) = Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default()) else {
                continue;
            };
            if let (
                Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                },
                IpAddress::Ipv4(from),
            ) = (repr, from)
            {
                return Some(EchoReply {
                    from,
                    ident,
                    seq_no,
                    data: data.to_vec(),
                });
            }
        }
    }
}

impl Host for SmolPeer {
    fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        if self.owned_syn(&frame) {
            self.syns_absorbed += 1;
            return;
        }
        self.device.rx.push_back(frame);
    }

    fn poll(&mut self, now: Instant) -> bool {
        self.now = now;
        let before = self.device.counts;
        let result = self
            .iface
            .poll(to_smol(now), &mut self.device, &mut self.sockets);
        result == PollResult::SocketStateChanged || self.device.counts != before
    }

    fn take_tx(&mut self, out: &mut Vec<Vec<u8>>) {
        out.append(&mut self.device.tx);
    }

    fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        self.iface
            .poll_at(to_smol(now), &self.sockets)
            .map(from_smol)
    }
}
