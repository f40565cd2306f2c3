//! # rusty-linux-bench
//!
//! Linux kernel TCP side by side with Rusty. This crate holds
//! `linux-page-server`, an epoll + `SO_REUSEPORT` HTTP/1.1 server of the
//! same 500-page set Rusty's `HttpServer` serves ([`rusty_fixtures`], page
//! `i` at `/i.htm`), and `run.sh`, which runs it in one network namespace
//! and `wrk` in another, joined by a veth pair, and compares the CPU time
//! Linux spends per request with `rusty-sim bench`.
//!
//! * [`request`] — HTTP/1.x request heads;
//! * [`server`] — the workers and their epoll loops;
//! * [`sys`] — the system calls std lacks (all of the crate's unsafe code).

pub mod request;
pub mod server;
pub mod sys;
