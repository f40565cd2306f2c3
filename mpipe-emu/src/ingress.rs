//! The ingress path (fact sheet §4): MAC checks, the classifier, the load
//! balancer and the iDMA, from a frame on "the wire" to an idesc in a
//! NotifRing. Everything here runs without allocating.

use crate::classifier;
use crate::context::{Context, Delivery, InjectDrop, InjectErrors};
use crate::error::{Error, Result};
use crate::lb::Occupancy;
use crate::link::NUM_CHANNELS;
use crate::rules::STACK_DROP;
use mpipe_desc::{dest, BDesc, BufferSize, Chain, IDesc, STATUS_BAD};

impl Context {
    /// Emulator only: a frame (Ethernet header to payload, no FCS) arrives
    /// on `channel`. Returns where it went; `BAD_CHANNEL` if no link has
    /// that channel.
    pub fn inject(&mut self, channel: u8, frame: &[u8]) -> Result<Delivery> {
        self.inject_with_errors(channel, frame, InjectErrors::default())
    }

    /// As [`Context::inject`], with MAC errors (me/tr/ce) set on the frame.
    /// With `Config::drop_bad` the classifier drops them; otherwise they
    /// are delivered with the error bits set.
    pub fn inject_with_errors(
        &mut self,
        channel: u8,
        frame: &[u8],
        errors: InjectErrors,
    ) -> Result<Delivery> {
        if usize::from(channel) >= NUM_CHANNELS {
            return Err(Error::BadChannel);
        }
        let link = self.links[usize::from(channel)]
            .as_ref()
            .ok_or(Error::BadChannel)?;
        self.stats.rx_frames += 1;
        let (data_open, up, max) = (link.data_open(), link.up(), link.max_frame());
        let drop = |ctx: &mut Context, r: InjectDrop| {
            let s = &mut ctx.stats;
            match r {
                InjectDrop::NotOpen => s.drop_not_open += 1,
                InjectDrop::LinkDown => s.drop_link_down += 1,
                InjectDrop::Runt => s.drop_runt += 1,
                InjectDrop::Oversize => s.drop_oversize += 1,
                InjectDrop::Errors => s.drop_errors += 1,
                InjectDrop::BadL3 => s.drop_bad_l3 += 1,
                InjectDrop::NoRule => s.drop_no_rule += 1,
                InjectDrop::NoStack => s.drop_no_stack += 1,
                InjectDrop::Capacity => s.drop_capacity += 1,
                InjectDrop::NoBucket => s.drop_no_bucket += 1,
                InjectDrop::RingFull => s.drop_ring_full += 1,
            }
            Ok(Delivery::Dropped(r))
        };
        if !data_open {
            return drop(self, InjectDrop::NotOpen);
        }
        if !up {
            return drop(self, InjectDrop::LinkDown);
        }
        if frame.len() < 14 {
            return drop(self, InjectDrop::Runt);
        }
        if frame.len() > max {
            return drop(self, InjectDrop::Oversize);
        }
        if errors.any() && self.config.drop_bad {
            return drop(self, InjectDrop::Errors);
        }
        let parsed = classifier::parse(frame, &self.hasher);
        if parsed.bad_l3 && self.config.drop_bad {
            return drop(self, InjectDrop::BadL3);
        }
        let open = self.open_channels();
        let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.matches(channel, open, parsed.vlan, parsed.dmac))
        else {
            return drop(self, InjectDrop::NoRule);
        };
        let (headroom, tailroom) = (usize::from(rule.headroom), usize::from(rule.tailroom));
        let (capacity, stacks) = (usize::from(rule.capacity), rule.stacks);
        let (bucket_first, bucket_mask) = (rule.bucket_first, rule.bucket_mask);
        let needed = headroom + frame.len() + tailroom;
        if needed > capacity {
            return drop(self, InjectDrop::Capacity);
        }
        let stack = match stacks {
            None => BufferSize::ALL
                .iter()
                .filter(|s| s.bytes() >= needed)
                .map(|s| self.size_stacks[*s as usize])
                .find(|&s| s != STACK_DROP),
            Some(st) => {
                Some(st[BufferSize::for_bytes(needed) as usize]).filter(|&s| s != STACK_DROP)
            }
        };
        let Some(stack) =
            stack.filter(|&s| self.stacks.get(usize::from(s)).is_some_and(|s| s.is_some()))
        else {
            return drop(self, InjectDrop::NoStack);
        };
        let bucket = bucket_first + (parsed.hash & bucket_mask);
        if self.lb.bucket(bucket as usize).is_none() {
            return drop(self, InjectDrop::NoBucket);
        }
        let rings = &self.rings;
        let occ = |r: u8| match rings[usize::from(r)].as_ref() {
            Some(r) => Occupancy {
                used: r.outstanding(),
                cap: r.capacity(),
            },
            None => Occupancy { used: 0, cap: 0 },
        };
        let Some(ring) = self.lb.pick(bucket as usize, occ) else {
            let cur = self.lb.bucket(bucket as usize).map(|b| b.ring);
            if let Some(r) = cur.and_then(|r| self.rings[usize::from(r)].as_mut()) {
                r.stats.dropped_full += 1;
            }
            return drop(self, InjectDrop::RingFull);
        };
        let (first, written, be) = self.dma_in(stack, frame, headroom, tailroom);

        let mut d = IDesc::default();
        d.set_notif_ring(ring);
        d.set_channel(channel);
        d.set_me(errors.me);
        d.set_tr(errors.tr);
        d.set_ce(errors.ce);
        d.set_l2_size(written as u32);
        d.set_bucket_id(bucket as u16);
        d.set_dest(dest::DELIVER);
        d.set_be(be);
        d.set_custom0(parsed.hash);
        if let Some((start, sum)) = parsed.l4_sum {
            d.set_cs(true);
            d.set_csum_start(start);
            d.set_csum_seed_val(sum);
        }
        d.set_c1_vlan(parsed.vlan);
        d.set_c1_ethertype(parsed.ethertype);
        d.set_c1_l3_offset(parsed.l3_offset);
        d.set_c1_l4_offset(parsed.l4_offset);
        d.set_c1_status(if parsed.bad_l3 { STATUS_BAD } else { 0 });
        d.set_packet_sqn(self.packet_sqn);
        self.packet_sqn += 1;
        if self.config.timestamps {
            let (sec, ns) = self.get_timestamp();
            d.set_ts(true);
            d.set_time_stamp_sec(sec as u32);
            d.set_time_stamp_ns(ns);
        }
        d.set_bdesc(first);

        let r = self.rings[usize::from(ring)]
            .as_mut()
            .ok_or(Error::BadNotifRing)?;
        let at = r.slot_va(r.tail);
        let ring_va = r.va;
        r.tail += 1;
        r.stats.delivered += 1;
        let tail = r.tail;
        if !(self.mem.write(at, &d.to_bytes()) && self.mem.write_u64(ring_va, tail)) {
            return Err(Error::BadNotifRing);
        }
        self.stats.rx_delivered += 1;
        self.stats.rx_bytes += written as u64;
        if be {
            self.stats.rx_buffer_errors += 1;
        }
        Ok(Delivery::Delivered {
            ring,
            bucket: bucket as u16,
            be,
        })
    }

    /// The iDMA: pops buffers from `stack`, writes the frame at `headroom`
    /// in the first buffer and chains further buffers as needed. Returns
    /// the first buffer's bdesc (with the packet's address), the bytes
    /// written and whether a stack ran empty (`be`).
    ///
    /// Chain layout: a buffer with a successor holds the successor's bdesc
    /// in its first 8 bytes, so its data starts at offset ≥ 8 (the first
    /// buffer at `max(headroom, 8)`, middle buffers at 8) and the last
    /// buffer's data at offset 0; every bdesc's low 7 address bits are that
    /// offset and `c` says whether that buffer has a successor. A missing
    /// successor (empty stack) is a bdesc with `c = INVALID`.
    fn dma_in(
        &mut self,
        stack: u8,
        frame: &[u8],
        headroom: usize,
        tailroom: usize,
    ) -> (BDesc, usize, bool) {
        let inst = self.config.instance;
        let Some(st) = self.stacks[usize::from(stack)].as_mut() else {
            return (BDesc::new(0, stack, 0, Chain::Invalid), 0, true);
        };
        let size = st.size();
        let bsize = size.bytes();
        let mk = |va: u64, c: Chain| {
            let mut b = BDesc::new(va as i64, stack, size as u8, c);
            b.set_inst(inst);
            b
        };
        let chained = headroom + frame.len() + tailroom > bsize;
        let Some(buf) = st.pop() else {
            return (mk(0, Chain::Invalid), 0, true);
        };
        let mut cur = (buf, if chained { headroom.max(8) } else { headroom });
        let mut first = mk(0, Chain::Invalid);
        let mut desc_at: Option<u64> = None;
        let mut written = 0;
        let mut be = false;
        loop {
            let take = (frame.len() - written).min(bsize - cur.1);
            self.mem
                .write(cur.0 + cur.1 as u64, &frame[written..written + take]);
            written += take;
            let more = written < frame.len();
            let d = mk(
                cur.0 + cur.1 as u64,
                if more {
                    Chain::Chained
                } else {
                    Chain::Unchained
                },
            );
            match desc_at {
                None => first = d,
                Some(at) => {
                    self.mem.write_u64(at, d.0);
                }
            }
            if !more {
                break;
            }
            desc_at = Some(cur.0);
            let remaining = frame.len() - written;
            let next_off = if remaining > bsize { 8 } else { 0 };
            let st = self.stacks[usize::from(stack)].as_mut();
            match st.and_then(|s| s.pop()) {
                Some(nb) => cur = (nb, next_off),
                None => {
                    self.mem.write_u64(cur.0, mk(0, Chain::Invalid).0);
                    be = true;
                    break;
                }
            }
        }
        (first, written, be)
    }
}
