//! TCP (RFC 9293) with RFC 5681/6582/6675 congestion control and loss
//! recovery, RFC 6298 retransmission timers, RFC 7323 and RFC 2018 options.
//!
//! This module holds TCP's parts: the application API ([`App`]), the
//! settings ([`TcpConfig`]), the connection block ([`tcb`]) and the small
//! sans-IO machines the engine drives (congestion control, RTT, SACK
//! scoreboard, reassembly, connection table, ISNs and cookies, TIME-WAIT).
//! The engine that runs them for one core is [`crate::Stack`]
//! ([`crate::stack`]).

pub mod ack_limit;
pub mod app;
pub mod config;
pub mod congestion;
pub mod isn;
pub mod reassembly;
pub mod rtt;
pub mod scoreboard;
pub mod table;
pub mod tcb;
pub mod time_wait;

pub use self::app::{App, Conn, ConnId, Connect, SendError, StaticWriter, Writer};
pub use self::config::TcpConfig;
pub use self::tcb::State;
