//! Software prefetch: asking the memory system for bytes before they are
//! read.
//!
//! A server that copies a large body into transmit buffers one segment at a
//! time reads memory that is usually not in any cache (a page set larger
//! than the caches, a file): each segment's copy then waits for the memory
//! while the protocol work between two segments leaves it idle. A writer
//! that prefetches the piece it will copy next, right after copying this
//! one, overlaps that wait with the work in between (the page writer of
//! `rusty-apps` does; on `rusty-sim bench` this took a request at one
//! connection from 45 to 36 µs of CPU, see the README's Performance
//! section). Drivers prefetch the next frame they will hand over the same
//! way (the pair driver does).
//!
//! A prefetch is a hint: it reads nothing into the program, changes no
//! value and never faults; on targets without one it does nothing.

/// Bytes the prefetch requests are spaced by: the cache line of the
/// targets the stack runs on (x86-64, and TILE-Gx's 64-byte L2 lines).
pub const CACHE_LINE: usize = 64;

/// Asks for every cache line of `items` to be brought into the
/// second-level cache (x86-64's `prefetcht1`); does nothing on other
/// targets.
///
/// Into the L2, not the L1: a frame's payload is 23 lines, and a
/// receiver prefetches the next frame's bytes and the memory it compares
/// them with at once. Requests for the L1 hold its few miss buffers
/// until the lines arrive, so the prefetch itself stalls (`perf` showed
/// the time on the instructions after `prefetcht0`); the L2 tracks more
/// misses, and a line in the L2 is a few cycles from the L1 when it is
/// read. Measured on `rusty-sim bench` (AMD EPYC, A/B rounds):
/// `prefetcht1` 10–11% less CPU per request than `prefetcht0` at 1, 100
/// and 1000 connections, `prefetcht2` no better than `prefetcht0`.
///
/// ```
/// use rusty_stack::mem::prefetch::prefetch_read;
///
/// let body = vec![7u8; 8192];
/// prefetch_read(&body[1460..2920]); // the next segment's payload
/// assert_eq!(body[2000], 7); // a hint: nothing is read or changed
/// ```
#[inline]
pub fn prefetch_read<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let len = core::mem::size_of_val(items);
        if len == 0 {
            return;
        }
        // From the start of the line that holds the first byte, so that a
        // slice starting inside a line gets its last line too.
        let first = items.as_ptr().cast::<i8>();
        let misalign = first.addr() % CACHE_LINE;
        let line_start = first.wrapping_sub(misalign);
        for line in 0..(misalign + len).div_ceil(CACHE_LINE) {
            // SAFETY: `prefetcht1` (SSE, in every x86-64 CPU) is a hint
            // that never faults and neither reads into registers nor
            // writes memory, whatever the address; this one is the start
            // of a cache line that holds bytes of the live slice `items`.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(
                    line_start.wrapping_add(line * CACHE_LINE),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = items;
}

/// [`prefetch_read`] for one value whose size is known at compile time
/// (a connection slot, a table bucket): the number of lines is a
/// constant, one more than the value fills when aligned (it may start
/// inside a line), so the compiler can unroll the requests and computes no
/// alignment-dependent count (callgrind: 86 instructions for a 900-byte
/// slot through [`prefetch_read`], about 20 here). The extra line may
/// hold the next value's bytes: a hint, it costs nothing else.
///
/// ```
/// use rusty_stack::mem::prefetch::prefetch_value;
///
/// let table = [[0u64; 16]; 4];
/// prefetch_value(&table[2]); // 128 bytes: three lines asked for
/// assert_eq!(table[2][15], 0);
/// ```
#[inline]
pub fn prefetch_value<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let lines = core::mem::size_of::<T>() / CACHE_LINE + 1;
        let first = (value as *const T).cast::<i8>();
        let line_start = first.wrapping_sub(first.addr() % CACHE_LINE);
        for line in 0..lines {
            // SAFETY: as in `prefetch_read`: `prefetcht1` is a hint that
            // never faults, reads nothing into registers and writes
            // nothing, whatever the address.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(
                    line_start.wrapping_add(line * CACHE_LINE),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_any_slice_changes_nothing() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let copy = data.clone();
        prefetch_read::<u8>(&[]);
        prefetch_read(&data[..1]);
        prefetch_read(&data[63..65]);
        prefetch_read(&data[9_999..]);
        prefetch_read(&data);
        let words = [1u16; 100];
        prefetch_read(&words[50..]);
        assert_eq!(data, copy);
        assert_eq!(words, [1u16; 100]);
    }

    #[test]
    fn prefetching_any_value_changes_nothing() {
        let big = [[3u8; 900]; 3];
        prefetch_value(&big[1]);
        prefetch_value(&());
        prefetch_value(&5u8);
        assert!(big.iter().flatten().all(|&b| b == 3));
    }
}
