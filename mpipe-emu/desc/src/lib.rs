//! `mpipe-desc`: the descriptor layouts of the TILE-Gx mPIPE, bit for bit
//! as in the gxio header (fact sheet `shared/mpipe.md` §2), in one place for
//! both sides of the gxio API: the stack's mPIPE backend (which on the
//! hardware links Tilera's libgxio and needs nothing else) and `mpipe-emu`
//! (the software mPIPE and its C header `include/gxio/mpipe.h`).
//!
//! * [`IDesc`] — `gxio_mpipe_idesc_t`, the 64-byte ingress descriptor;
//! * [`EDesc`] — `gxio_mpipe_edesc_t`, the 16-byte egress descriptor;
//! * [`BDesc`] — `gxio_mpipe_bdesc_t`, the 8-byte buffer descriptor (the
//!   same layout as idesc word 7 and edesc word 1), with its chaining
//!   field [`Chain`];
//! * [`BufferSize`] — the 8 buffer size classes a descriptor's `size`
//!   field names.
//!
//! Every descriptor is plain little-endian 64-bit words with a getter and
//! a setter per field; bit 0 is the least significant bit of a word. No
//! `unsafe`, no allocation, `no_std`.
//!
//! ```
//! use mpipe_desc::{BDesc, BufferSize, Chain, EDesc};
//!
//! let b = BDesc::new(0x1_0000_0082, 3, BufferSize::B1664 as u8, Chain::Unchained);
//! assert_eq!((b.buffer_va(), b.offset(), b.buffer_size()), (0x1_0000_0080, 2, BufferSize::B1664));
//! let e = EDesc::new(b, 60, true).with_checksum(34, 50, 0x1234);
//! assert_eq!((e.xfer_size(), e.bound(), e.csum_seed_host()), (60, true, 0x1234));
//! assert_eq!(e.words[1], b.0);
//! ```

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

mod bdesc;
mod bits;
mod edesc;
mod idesc;
mod size;

pub use bdesc::{BDesc, Chain};
pub use edesc::{EDesc, MAX_XFER_SIZE};
pub use idesc::{dest, IDesc, STATUS_BAD};
pub use size::{BufferSize, InvalidBufferSize};

const _: () = assert!(core::mem::size_of::<IDesc>() == 64);
const _: () = assert!(core::mem::size_of::<EDesc>() == 16);
const _: () = assert!(core::mem::size_of::<BDesc>() == 8);
const _: () = assert!(core::mem::align_of::<IDesc>() == 8);
const _: () = assert!(core::mem::align_of::<EDesc>() == 8);
const _: () = assert!(core::mem::align_of::<BDesc>() == 8);
