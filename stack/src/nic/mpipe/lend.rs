//! Lending the mPIPE's buffer memory to the stack: building the lent pool
//! over the buffer-stack pages, and adopting the buffers the hardware
//! hands over (a received packet's chain, a buffer popped for transmit)
//! as frames, without copying. The only `unsafe` here is the promise each
//! [`BufPool::lent`] and [`BufPool::adopt`] call asks for.

#[cfg(doc)]
use crate::mem::buf::MAX_CHAIN;
use crate::mem::buf::{BufError, BufPool, Frame, Lender, LentSegment, SIZE_CLASSES};

use mpipe_desc::{BDesc, Chain, IDesc};

/// A pool over the buffer-stack pages `segments`.
///
/// The pages are context-owned memory ([`super::gxio::Gxio::alloc_memory`])
/// that stays mapped as long as the context, and `lender` holds the
/// context (through the NIC's shared state), so the memory outlives the
/// pool and all its frames.
pub fn lent_pool(segments: &[LentSegment], lender: Box<dyn Lender>) -> Result<BufPool, BufError> {
    // SAFETY: see above: every segment lies in memory mapped for the
    // context's life, and the pool owns the lender, which keeps the context
    // alive. Other workers' pools cover the same memory; the hardware hands
    // each buffer to one of them at a time (`adopt_*` below).
    unsafe { BufPool::lent(segments, lender) }
}

/// Why a received packet's buffers could not become a frame. Every buffer
/// of the chain that the pool knows has been given back to its stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// The descriptor names no buffer (`c` invalid: no buffer was free).
    NoBuffer,
    /// The chain has more than [`MAX_CHAIN`] buffers.
    ChainTooLong,
    /// A descriptor names memory outside the pool, or a buffer a frame
    /// already owns, or its size class disagrees with the pool's.
    BadDescriptor,
}

impl core::fmt::Display for RxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RxError::NoBuffer => "the descriptor names no buffer",
            RxError::ChainTooLong => "the buffer chain is too long",
            RxError::BadDescriptor => "the descriptor names memory the pool does not lend",
        })
    }
}

impl std::error::Error for RxError {}

/// The frame of a received packet, over its buffers as the iDMA filled
/// them: the first buffer's data starts at the offset in the low 7 bits of
/// its address (the headroom), each buffer holds up to its end, and a
/// chained buffer holds the next one's bdesc in its first 8 bytes (outside
/// the windows). The walk follows the chain to its end even past
/// `l2_size` or [`MAX_CHAIN`], so that every buffer is returned.
pub fn adopt_packet(pool: &BufPool, idesc: &IDesc) -> Result<Frame, RxError> {
    let mut remaining = idesc.xfer_size();
    let mut bdesc = idesc.bdesc();
    let mut frame: Option<Frame> = None;
    let mut error = None;
    // A chain cannot be longer than the pool has buffers; this also ends a
    // corrupted, cyclic chain (which `adopt` would refuse anyway).
    let limit = (0..SIZE_CLASSES.len())
        .map(|c| pool.capacity(c))
        .sum::<usize>();
    for _ in 0..limit.max(1) {
        if !bdesc.is_valid() {
            break;
        }
        let addr = bdesc.va() as usize;
        let Some((class, offset)) = pool.lent_class_at(addr) else {
            error = Some(RxError::BadDescriptor);
            break;
        };
        if class != usize::from(bdesc.size()) {
            error = Some(RxError::BadDescriptor);
            break;
        }
        let take = remaining.min(SIZE_CLASSES[class] - offset);
        // SAFETY: the iDMA popped this buffer from its stack for this
        // packet and named it in the packet's descriptor chain; it is on no
        // stack and in no other frame until we give it back (`adopt`
        // refuses it if a frame of this pool holds it already).
        let part = match unsafe { pool.adopt(addr, offset, take) } {
            Ok(part) => part,
            Err(_) => {
                error = Some(RxError::BadDescriptor);
                break;
            }
        };
        remaining -= take;
        let next = (bdesc.c() == Chain::Chained).then(|| next_bdesc(&part));
        match frame.as_mut() {
            None => frame = Some(part),
            Some(f) => {
                if let Err(part) = f.push(part) {
                    // Over MAX_CHAIN: drop it (back to its stack), go on
                    // walking to return the rest.
                    drop(part);
                    error.get_or_insert(RxError::ChainTooLong);
                }
            }
        }
        match next {
            Some(n) => bdesc = n,
            None => break,
        }
    }
    match (error, frame) {
        (Some(e), _) => Err(e),
        (None, Some(f)) => Ok(f),
        (None, None) => Err(RxError::NoBuffer),
    }
}

/// The bdesc a chained buffer holds in its first 8 bytes.
fn next_bdesc(part: &Frame) -> BDesc {
    let word = part
        .storage(0)
        .and_then(|s| s.get(..8))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_le_bytes);
    BDesc(word)
}

/// A frame of `len` bytes over a buffer just popped from its stack.
pub fn adopt_popped(pool: &BufPool, bdesc: BDesc, len: usize) -> Result<Frame, BufError> {
    // SAFETY: `gxio_mpipe_pop_buffer_bdesc` took the buffer off its stack:
    // the hardware will not use it until we push it back or post it with
    // `hwb`, and no frame holds it.
    unsafe { pool.adopt(bdesc.va() as usize, 0, len) }
}
