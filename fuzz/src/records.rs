//! The input format of the `stack_frames` target: a sequence of records,
//! each a frame for the stack or a step of time.
//!
//! ```text
//! record = tag:u8 value:u16be [bytes]
//! tag < 0x80   a frame of `value` bytes (fewer if the input ends first);
//!              tag bit 0: fix the IPv4, TCP and ICMP checksums first,
//!              tag bit 1: address it to the stack (Ethernet and IPv4
//!              destination) first
//! tag >= 0x80  a time step; tag bits 0-1 give the unit of `value`:
//!              0 = 1 µs, 1 = 1 ms, 2 = 1 s, 3 = to the stack's next
//!              timer (`value` ignored)
//! ```
//!
//! `seeds.sh` writes the same format from captures (a frame record for
//! each frame to the stack, a µs or ms step for each gap).

use rusty_stack::time::Duration;

/// Tag bit of a frame record: fix its checksums.
pub const FIX_CHECKSUMS: u8 = 0x01;
/// Tag bit of a frame record: address it to the stack.
pub const READDRESS: u8 = 0x02;
/// Tag bit of a time step.
pub const STEP: u8 = 0x80;

/// One record of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A frame to put on the wire.
    Frame {
        /// Fix its checksums first.
        fix_checksums: bool,
        /// Address it to the stack first.
        readdress: bool,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// Time moves on by this much.
    Advance(Duration),
    /// Time moves on to the stack's next timer, if it has one.
    NextTimer,
}

/// The records of `data`, in order; a truncated record at the end is
/// taken as far as it goes.
pub fn parse(data: &[u8]) -> Records<'_> {
    Records { rest: data }
}

/// Iterator over the records of an input; see [`parse`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let (&tag, rest) = self.rest.split_first()?;
        let value = match rest {
            [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
            [lo] => u16::from(*lo),
            [] => 0,
        };
        let rest = rest.get(2..).unwrap_or(&[]);
        if tag & STEP != 0 {
            self.rest = rest;
            let v = u64::from(value);
            return Some(match tag & 0x03 {
                0 => Record::Advance(Duration::from_micros(v)),
                1 => Record::Advance(Duration::from_millis(v)),
                2 => Record::Advance(Duration::from_secs(v)),
                _ => Record::NextTimer,
            });
        }
        let len = usize::from(value).min(rest.len());
        let (bytes, rest) = rest.split_at(len);
        self.rest = rest;
        Some(Record::Frame {
            fix_checksums: tag & FIX_CHECKSUMS != 0,
            readdress: tag & READDRESS != 0,
            bytes,
        })
    }
}
