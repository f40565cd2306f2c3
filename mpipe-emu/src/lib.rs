//! `mpipe-emu`: a deterministic software emulator of Tilera's gxio mPIPE
//! NIC API (the TILE-Gx's user-space packet engine), so the code that drives
//! the hardware can run on x86 and inside the simulator.
//!
//! It models the resources and semantics of the fact sheet
//! (`shared/mpipe.md`): buffer stacks in 8 size classes with registered
//! pages, the classifier (flow hash, IPv4 header checksum, L4 sum, rules),
//! load-balancer buckets in four modes, NotifRings and iqueues with
//! credits, the iDMA with buffer chaining and `be`, eDMA rings and equeues
//! with the generation bit, gather, checksum offload, `ns` and `hwb`, links
//! with their attributes, hardware timestamps and the documented error
//! codes. Nothing depends on the wall clock or OS randomness: the owner
//! sets the time ([`Context::set_time`]) and is "the wire"
//! ([`Context::inject`] in, [`Context::egress_pop`] out).
//!
//! Two faces: this safe Rust API ([`Context`]) and a C ABI with the gxio
//! names ([`c_abi`], header `include/gxio/mpipe.h`).
//!
//! Buffer memory is real memory owned by the context, at addresses that fit
//! the descriptors' 42-bit `va` fields; [`Context::buffer`],
//! [`Context::buffer_mut`] and [`Context::packet_segments`] hand out slices
//! of it for a descriptor, without copying.
//!
//! # Example
//!
//! ```
//! use mpipe_emu::{BufferSize, BucketMode, Context, EDesc, Rules, Delivery};
//!
//! let mut ctx = Context::init(0)?;
//! let link = ctx.link_open("gbe0", 0)?;
//! // One stack of 1664-byte buffers.
//! let stack = ctx.alloc_buffer_stacks(1, 0, 0)?;
//! ctx.init_buffer_stack(stack, BufferSize::B1664, 64)?;
//! ctx.populate_buffer_stack(stack, 64)?;
//! // One NotifRing fed by 16 buckets.
//! let ring = ctx.alloc_notif_rings(1, 0, 0)?;
//! ctx.iqueue_init(ring, 128)?;
//! let group = ctx.alloc_notif_groups(1, 0, 0)?;
//! let bucket = ctx.alloc_buckets(16, 0, 0)?;
//! ctx.init_notif_group_and_buckets(group, ring, 1, bucket, 16, BucketMode::StaticFlowAffinity)?;
//! let mut rules = Rules::new();
//! rules.begin(bucket, 16, None)?;
//! ctx.commit_rules(&rules)?;
//!
//! // A frame arrives and lands in a buffer, two bytes of headroom in.
//! ctx.set_time(1_500_000_000);
//! let frame = [0xAAu8; 60];
//! assert!(matches!(ctx.inject(link.channel, &frame)?, Delivery::Delivered { .. }));
//! let idesc = ctx.iqueue_try_get(ring)?;
//! assert_eq!(idesc.xfer_size(), 60);
//! assert_eq!(idesc.va() & 127, 2);
//! assert_eq!((idesc.time_stamp_sec(), idesc.time_stamp_ns()), (1, 500_000_000));
//! let (_, bytes) = ctx.packet_segments(&idesc).next().unwrap();
//! assert_eq!(bytes, &frame[..]);
//!
//! // Send it back out of the same buffer; hwb returns the buffer.
//! let ering = ctx.alloc_edma_rings(1, 0, 0)?;
//! ctx.equeue_init(ering, link.channel.into(), 512)?;
//! let before = ctx.stack_len(stack)?;
//! ctx.equeue_put(ering, EDesc::copy_idesc(&idesc))?;
//! assert_eq!(ctx.stack_len(stack)?, before + 1);
//! let mut out = [0u8; 1600];
//! assert_eq!(ctx.egress_pop(link.channel, &mut out)?, Some(60));
//! # Ok::<(), mpipe_emu::Error>(())
//! ```

pub mod buffer_stack;
pub mod c_abi;
pub mod classifier;
pub mod context;
pub mod edma;
pub mod error;
pub mod hash;
mod ingress;
pub mod lb;
pub mod link;
mod mem;
pub mod notif;
pub mod resource;
pub mod rules;

pub use buffer_stack::{calc_buffer_stack_bytes, PacketSegments, StackStats, MAX_PAGES_PER_STACK};
pub use context::{
    Config, Context, Delivery, InjectDrop, InjectErrors, Stats, MAX_EGRESS_QUEUE_BYTES,
    MAX_EGRESS_QUEUE_FRAMES, MAX_STACK_BUFFERS,
};
pub use edma::EdmaStats;
pub use error::{Error, Result};
pub use hash::{toeplitz, FlowHasher, MICROSOFT_RSS_KEY};
pub use lb::{Bucket, BucketMode};
pub use link::Link;
/// The descriptor layouts and size classes, defined once in `mpipe-desc`
/// (which the stack's hardware backend uses too).
pub use mpipe_desc::{BDesc, BufferSize, Chain, EDesc, IDesc};
pub use notif::RingStats;
pub use resource::ALLOC_FIXED;
pub use rules::Rules;
