//! TCP (RFC 9293) with RFC 5681/6582/6675 congestion control and loss
//! recovery, RFC 6298 retransmission timers, RFC 7323 and RFC 2018 options.

pub mod app;
pub mod config;
pub mod congestion;
pub mod isn;
pub mod reassembly;
pub mod rtt;
pub mod scoreboard;
mod stack;
pub mod table;
pub mod tcb;
pub mod time_wait;

pub use self::app::{App, ConnId, ConnOps, ConnRef, Connect, SendError, StaticWriter, Writer};
pub use self::config::TcpConfig;
pub use self::stack::{ConnInfo, ConnectError, ListenError, Stack};
pub use self::tcb::State;
