//! TCP (RFC 9293) with RFC 5681/6582/6675 congestion control and loss
//! recovery, RFC 6298 retransmission timers, RFC 7323 and RFC 2018 options.

pub mod congestion;
pub mod isn;
pub mod reassembly;
pub mod rtt;
pub mod scoreboard;
