//! Network models: links with faults, the multi-queue NIC, the emulated
//! mPIPE port, and pcap captures.
//!
//! * [`link`] — point-to-point Ethernet links with bandwidth, latency, a
//!   transmit queue and seeded faults;
//! * [`nic`] — a multi-queue NIC port: Toeplitz RSS, bounded rings, pools;
//! * [`nic_port`] — the server's NIC kind: the simulated NIC or mpipe-emu
//!   through the stack's mpipe backend;
//! * [`pcap`] — pcap captures stamped with virtual time.

pub mod link;
pub mod nic;
pub mod nic_port;
pub mod pcap;
