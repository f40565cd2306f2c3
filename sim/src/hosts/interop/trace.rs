//! The frame trace of a [`InteropNet`](super::InteropNet): every frame handed to the
//! link, with what the link did to it.

use rusty_stack::time::Instant;
use rusty_stack::wire::pretty::Tracer;

use crate::net::link::{Loss, SendResult, Side};

/// One frame handed to the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// The frame's number, from 0 in send order.
    pub seq: u64,
    /// When it was sent.
    pub at: Instant,
    /// The side that sent it.
    pub from: Side,
    /// Why it was lost, if it was.
    pub lost: Option<Loss>,
    /// The copies delivered: arrival time, and whether a bit was flipped.
    pub copies: Vec<(Instant, bool)>,
    /// The bytes as sent (before any fault).
    pub bytes: Vec<u8>,
}

impl TraceEntry {
    /// The entry of frame `seq`, sent by `from` at `at`, whose fate is
    /// `result`.
    pub fn new(seq: u64, at: Instant, from: Side, result: &SendResult, bytes: Vec<u8>) -> Self {
        TraceEntry {
            seq,
            at,
            from,
            lost: result.lost,
            copies: result.iter().map(|d| (d.at, d.corrupted)).collect(),
            bytes,
        }
    }
}

/// The last `last` entries as tcpdump-like lines.
pub(super) fn lines(trace: &[TraceEntry], last: usize) -> Vec<String> {
    let mut tracer = Tracer::new();
    let lines: Vec<String> = trace
        .iter()
        .map(|e| {
            let fate = match e.lost {
                Some(cause) => format!("LOST ({cause:?})"),
                None => e
                    .copies
                    .iter()
                    .enumerate()
                    .map(|(i, &(at, bad))| {
                        let dup = if i > 0 { "DUP " } else { "" };
                        let bad = if bad { " CORRUPT" } else { "" };
                        format!("{dup}-> {at}{bad}")
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            format!(
                "#{:<5} {} {:?}->{:?} {}: {}",
                e.seq,
                e.at,
                e.from,
                e.from.peer(),
                fate,
                tracer.line(&e.bytes)
            )
        })
        .collect();
    let skip = lines.len().saturating_sub(last);
    lines.into_iter().skip(skip).collect()
}
