//! Links (fact sheet §1 "Links"): names, channels, open flags, attributes,
//! up/down state, and each channel's egress "wire" queue.
//!
//! The emulator's link table: `gbe0`–`gbe15` are channels 0–15 (1G SGMII),
//! `xgbe0`–`xgbe3` channels 16–19 (10G XAUI), `loop0`–`loop3` channels 20–23
//! (loopback MACs: their egress frames come back as ingress frames on the
//! same channel instead of reaching the egress queue).
//! MAC addresses are the context's `mac_base` with the channel added to
//! the last octet.

use crate::context::Context;

use crate::error::{Error, Result};
use std::collections::VecDeque;

/// Open flags (`GXIO_MPIPE_LINK_*`).
pub mod flags {
    /// Receive and send data.
    pub const DATA: u32 = 0x1;
    /// Do not use the data path.
    pub const NO_DATA: u32 = 0x2;
    /// Use the data path exclusively.
    pub const EXCL_DATA: u32 = 0x4;
    /// Read statistics.
    pub const STATS: u32 = 0x8;
    /// Do not read statistics.
    pub const NO_STATS: u32 = 0x10;
    /// Statistics exclusively.
    pub const EXCL_STATS: u32 = 0x20;
    /// Control the link.
    pub const CTL: u32 = 0x40;
    /// Do not control the link.
    pub const NO_CTL: u32 = 0x80;
    /// Control the link exclusively.
    pub const EXCL_CTL: u32 = 0x100;
    /// Bring the link up when opened.
    pub const AUTO_UP: u32 = 0x200;
    /// Up when opened, down when the last opener closes it.
    pub const AUTO_UPDOWN: u32 = 0x400;
    /// Down when the last opener closes it.
    pub const AUTO_DOWN: u32 = 0x800;
    /// Neither.
    pub const AUTO_NONE: u32 = 0x1000;
    /// Wait for the link (accepted; the emulated link is immediate).
    pub const WAIT: u32 = 0x2000;
}

/// Link attributes for `link_get_attr` / `link_set_attr`.
pub mod attr {
    /// Non-zero: accept frames up to 10240 bytes; 0 (default): 1544.
    pub const RECEIVE_JUMBO: u32 = 0x010000;
    /// Send pause frames (stored; pause is not modelled).
    pub const SEND_PAUSE: u32 = 0x020000;
    /// Honour received pause frames (stored; pause is not modelled).
    pub const RECEIVE_PAUSE: u32 = 0x030000;
    /// The MAC address, low 48 bits, first octet most significant; read-only.
    pub const MAC: u32 = 0x040000;
    /// Discard egress frames while the link is down (default 1).
    pub const DISCARD_IF_DOWN: u32 = 0x050000;
    /// State flags the link can reach; read-only.
    pub const POSSIBLE_STATE: u32 = 0x060000;
    /// The current state flags (0 when down); read-only.
    pub const CURRENT_STATE: u32 = 0x070000;
    /// The desired state flags (0 = down).
    pub const DESIRED_STATE: u32 = 0x080000;
}

/// Link state flags.
pub mod state {
    /// 10 Mb/s.
    pub const SPEED_10M: u64 = 0x1;
    /// 100 Mb/s.
    pub const SPEED_100M: u64 = 0x2;
    /// 1 Gb/s.
    pub const SPEED_1G: u64 = 0x4;
    /// 10 Gb/s.
    pub const SPEED_10G: u64 = 0x8;
    /// Any speed.
    pub const ANYSPEED: u64 = 0x800;
    /// All speed bits.
    pub const SPEED_MASK: u64 = 0xFFF;
    /// MAC loopback.
    pub const LOOP_MAC: u64 = 0x1000;
    /// PHY loopback.
    pub const LOOP_PHY: u64 = 0x2000;
}

/// Largest frame accepted without `RECEIVE_JUMBO`.
pub const MAX_FRAME: usize = 1544;
/// Largest frame accepted with `RECEIVE_JUMBO`.
pub const MAX_JUMBO_FRAME: usize = 10240;
/// Number of channels.
pub const NUM_CHANNELS: usize = 32;

/// An open link, as returned by `link_open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The link's channel.
    pub channel: u8,
    /// The effective open flags (defaults filled in).
    pub flags: u32,
}

/// The emulator's link table: (name prefix, count, first channel, speeds).
const TABLE: [(&str, u8, u8, u64); 3] = [
    (
        "gbe",
        16,
        0,
        state::SPEED_10M | state::SPEED_100M | state::SPEED_1G,
    ),
    ("xgbe", 4, 16, state::SPEED_10G),
    ("loop", 4, 20, state::SPEED_10G | state::LOOP_MAC),
];

/// The channel of a link name (`gbeN`, `xgbeN`, `loopN`), if it exists.
pub fn channel_of(name: &str) -> Option<u8> {
    TABLE.iter().find_map(|&(prefix, n, first, _)| {
        let idx: u8 = name.strip_prefix(prefix)?.parse().ok()?;
        let digits = name.len() - prefix.len();
        (idx < n && digits == if idx < 10 { 1 } else { 2 }).then_some(first + idx)
    })
}

/// Whether `channel` is one of the loopback links (`loop0`–`loop3`), whose
/// egress frames come back as ingress on the same channel.
pub fn is_loopback(channel: u8) -> bool {
    (20..24).contains(&channel)
}

/// The name of the link on `channel`, if any.
pub fn name_of(channel: u8) -> Option<String> {
    TABLE.iter().find_map(|&(prefix, n, first, _)| {
        (channel >= first && channel < first + n).then(|| format!("{prefix}{}", channel - first))
    })
}

fn possible_of(channel: u8) -> u64 {
    TABLE
        .iter()
        .find(|&&(_, n, first, _)| channel >= first && channel < first + n)
        .map_or(0, |t| t.3)
}

/// A bounded queue of egress frames (fixed byte and frame capacity).
pub(crate) struct EgressQueue {
    buf: Vec<u8>,
    frames: VecDeque<(usize, usize)>,
    max_frames: usize,
}

impl EgressQueue {
    pub(crate) fn new(bytes: usize, max_frames: usize) -> EgressQueue {
        EgressQueue {
            buf: vec![0; bytes],
            frames: VecDeque::with_capacity(max_frames),
            max_frames,
        }
    }

    /// Appends a frame; false (dropped) when there is no room.
    pub(crate) fn push(&mut self, frame: &[u8]) -> bool {
        let len = frame.len();
        if self.frames.len() >= self.max_frames || len > self.buf.len() {
            return false;
        }
        let start = match (self.frames.front(), self.frames.back()) {
            (Some(&(old, _)), Some(&(s, l))) => {
                let end = s + l;
                if s >= old {
                    if end + len <= self.buf.len() {
                        end
                    } else if len <= old {
                        0
                    } else {
                        return false;
                    }
                } else if end + len <= old {
                    end
                } else {
                    return false;
                }
            }
            _ => 0,
        };
        self.buf[start..start + len].copy_from_slice(frame);
        self.frames.push_back((start, len));
        true
    }

    /// The oldest frame.
    pub(crate) fn front(&self) -> Option<&[u8]> {
        self.frames.front().map(|&(s, l)| &self.buf[s..s + l])
    }

    /// Removes the oldest frame.
    pub(crate) fn pop(&mut self) {
        self.frames.pop_front();
    }

    /// Frames queued.
    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }
}

/// State of one link.
pub(crate) struct LinkState {
    pub(crate) channel: u8,
    pub(crate) mac: [u8; 6],
    opens: [u32; 3],
    exclusive: [bool; 3],
    auto: u32,
    pub(crate) jumbo: bool,
    send_pause: u64,
    receive_pause: u64,
    pub(crate) discard_if_down: bool,
    desired: u64,
    pub(crate) carrier: bool,
    pub(crate) egress: Option<EgressQueue>,
}

const CATEGORIES: [(u32, u32, u32); 3] = [
    (flags::DATA, flags::NO_DATA, flags::EXCL_DATA),
    (flags::STATS, flags::NO_STATS, flags::EXCL_STATS),
    (flags::CTL, flags::NO_CTL, flags::EXCL_CTL),
];
const AUTO: [u32; 4] = [
    flags::AUTO_UP,
    flags::AUTO_UPDOWN,
    flags::AUTO_DOWN,
    flags::AUTO_NONE,
];

/// Fills in the defaults (DATA, STATS, CTL, AUTO_UPDOWN) and rejects
/// contradictory flags with `BAD_CONFIG`.
pub fn effective_flags(mut f: u32) -> Result<u32> {
    let known = 0x3FFF;
    if f & !known != 0 {
        return Err(Error::BadConfig);
    }
    for (on, off, excl) in CATEGORIES {
        match (f & (on | off | excl)).count_ones() {
            0 => f |= on,
            1 => {}
            _ => return Err(Error::BadConfig),
        }
    }
    match AUTO.iter().filter(|&&a| f & a != 0).count() {
        0 => f |= flags::AUTO_UPDOWN,
        1 => {}
        _ => return Err(Error::BadConfig),
    }
    Ok(f)
}

impl LinkState {
    pub(crate) fn new(channel: u8, mac_base: [u8; 6]) -> LinkState {
        let mut mac = mac_base;
        mac[5] = mac[5].wrapping_add(channel);
        LinkState {
            channel,
            mac,
            opens: [0; 3],
            exclusive: [false; 3],
            auto: 0,
            jumbo: false,
            send_pause: 0,
            receive_pause: 0,
            discard_if_down: true,
            desired: 0,
            carrier: true,
            egress: None,
        }
    }

    /// Whether any opener uses the data path.
    pub(crate) fn data_open(&self) -> bool {
        self.opens[0] > 0
    }

    /// Whether the link is up (carrier present and a desired state set).
    pub(crate) fn up(&self) -> bool {
        self.carrier && self.desired & (state::SPEED_MASK | state::LOOP_MAC | state::LOOP_PHY) != 0
    }

    /// Largest frame the MAC accepts.
    pub(crate) fn max_frame(&self) -> usize {
        if self.jumbo {
            MAX_JUMBO_FRAME
        } else {
            MAX_FRAME
        }
    }

    /// Opens with effective flags `f` (see [`effective_flags`]).
    pub(crate) fn open(&mut self, f: u32) -> Result<()> {
        for (i, &(on, _, excl)) in CATEGORIES.iter().enumerate() {
            let wants = f & (on | excl) != 0;
            if wants && (self.exclusive[i] || (f & excl != 0 && self.opens[i] > 0)) {
                return Err(Error::Busy);
            }
        }
        for (i, &(on, _, excl)) in CATEGORIES.iter().enumerate() {
            if f & (on | excl) != 0 {
                self.opens[i] += 1;
                self.exclusive[i] |= f & excl != 0;
            }
        }
        if self.total_opens() == 1 {
            self.auto =
                f & (flags::AUTO_UP | flags::AUTO_UPDOWN | flags::AUTO_DOWN | flags::AUTO_NONE);
        }
        if f & (flags::AUTO_UP | flags::AUTO_UPDOWN) != 0 && self.desired == 0 {
            self.desired = state::ANYSPEED;
        }
        Ok(())
    }

    fn total_opens(&self) -> u32 {
        self.opens.iter().copied().max().unwrap_or(0)
    }

    /// Closes one open made with flags `f`; `BAD_CONFIG` if not open so.
    pub(crate) fn close(&mut self, f: u32) -> Result<()> {
        for (i, &(on, _, excl)) in CATEGORIES.iter().enumerate() {
            if f & (on | excl) != 0 && self.opens[i] == 0 {
                return Err(Error::BadConfig);
            }
        }
        for (i, &(on, _, excl)) in CATEGORIES.iter().enumerate() {
            if f & (on | excl) != 0 {
                self.opens[i] -= 1;
                if f & excl != 0 {
                    self.exclusive[i] = false;
                }
            }
        }
        if self.total_opens() == 0 && self.auto & (flags::AUTO_UPDOWN | flags::AUTO_DOWN) != 0 {
            self.desired = 0;
        }
        Ok(())
    }

    /// `link_get_attr`.
    pub(crate) fn get_attr(&self, a: u32) -> Result<u64> {
        Ok(match a {
            attr::RECEIVE_JUMBO => u64::from(self.jumbo),
            attr::SEND_PAUSE => self.send_pause,
            attr::RECEIVE_PAUSE => self.receive_pause,
            attr::MAC => self
                .mac
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
            attr::DISCARD_IF_DOWN => u64::from(self.discard_if_down),
            attr::POSSIBLE_STATE => possible_of(self.channel) | state::ANYSPEED,
            attr::CURRENT_STATE => {
                if self.up() {
                    let p = possible_of(self.channel);
                    // The fastest speed it can do, plus any loopback flag.
                    let speed = match p & 0xF {
                        0 => 0,
                        s => 1u64 << (63 - s.leading_zeros()),
                    };
                    speed | (p & (state::LOOP_MAC | state::LOOP_PHY))
                } else {
                    0
                }
            }
            attr::DESIRED_STATE => self.desired,
            _ => return Err(Error::BadConfig),
        })
    }

    /// `link_set_attr`; read-only attributes give `GXIO_ERR_PERM`.
    pub(crate) fn set_attr(&mut self, a: u32, v: u64) -> Result<()> {
        match a {
            attr::RECEIVE_JUMBO => self.jumbo = v != 0,
            attr::SEND_PAUSE => self.send_pause = v,
            attr::RECEIVE_PAUSE => self.receive_pause = v,
            attr::DISCARD_IF_DOWN => self.discard_if_down = v != 0,
            attr::DESIRED_STATE => self.desired = v,
            attr::MAC | attr::POSSIBLE_STATE | attr::CURRENT_STATE => return Err(Error::Perm),
            _ => return Err(Error::BadConfig),
        }
        Ok(())
    }
}

/// Links and the egress "wire" of the context.
impl Context {
    /// The channel of an open link with a data path, or `BAD_CHANNEL`.
    pub(crate) fn open_channel(&self, channel: u32) -> Result<u8> {
        match self.links.get(channel as usize).and_then(|l| l.as_ref()) {
            Some(l) if l.data_open() => Ok(l.channel),
            _ => Err(Error::BadChannel),
        }
    }

    /// Channels of links opened with a data path, as a bit mask.
    pub fn open_channels(&self) -> u32 {
        self.links
            .iter()
            .flatten()
            .filter(|l| l.data_open())
            .fold(0, |m, l| m | (1 << l.channel))
    }

    /// `gxio_mpipe_link_open`: opens a link by name (`gbeN`, `xgbeN`,
    /// `loopN`; else `GXIO_ERR_NO_DEVICE`). Flags default to DATA, STATS,
    /// CTL and AUTO_UPDOWN; an exclusive open of a link already open (or
    /// any open of an exclusively held one) is `GXIO_ERR_BUSY`.
    pub fn link_open(&mut self, name: &str, flags: u32) -> Result<Link> {
        let ch = channel_of(name).ok_or(Error::NoDevice)?;
        let f = effective_flags(flags)?;
        let (bytes, frames) = (
            self.config.egress_queue_bytes as usize,
            self.config.egress_queue_frames as usize,
        );
        let l = self.links[usize::from(ch)]
            .as_mut()
            .ok_or(Error::NoDevice)?;
        l.open(f)?;
        if l.data_open() && l.egress.is_none() {
            l.egress = Some(EgressQueue::new(bytes, frames));
        }
        Ok(Link {
            channel: ch,
            flags: f,
        })
    }

    pub(crate) fn link_mut(&mut self, channel: u8) -> Result<&mut LinkState> {
        self.links
            .get_mut(usize::from(channel))
            .and_then(|l| l.as_mut())
            .ok_or(Error::BadChannel)
    }

    pub(crate) fn link_state(&self, channel: u8) -> Result<&LinkState> {
        self.links
            .get(usize::from(channel))
            .and_then(|l| l.as_ref())
            .ok_or(Error::BadChannel)
    }

    /// `gxio_mpipe_link_close`; `BAD_CONFIG` if this open was closed already.
    pub fn link_close(&mut self, link: Link) -> Result<()> {
        self.link_mut(link.channel)?.close(link.flags)
    }

    /// `gxio_mpipe_link_get_attr`.
    pub fn link_get_attr(&self, link: &Link, attr: u32) -> Result<u64> {
        self.link_state(link.channel)?.get_attr(attr)
    }

    /// `gxio_mpipe_link_set_attr`; read-only attributes are `GXIO_ERR_PERM`.
    pub fn link_set_attr(&mut self, link: &Link, attr: u32, value: u64) -> Result<()> {
        self.link_mut(link.channel)?.set_attr(attr, value)
    }

    /// The MAC address of the link on `channel`.
    pub fn link_mac(&self, channel: u8) -> Result<[u8; 6]> {
        Ok(self.link_state(channel)?.mac)
    }

    /// Whether the link on `channel` is up.
    pub fn link_is_up(&self, channel: u8) -> Result<bool> {
        Ok(self.link_state(channel)?.up())
    }

    /// Emulator only: plugs (`true`) or unplugs the cable of a link. A link
    /// is up when its cable is plugged in (the default) and a desired state
    /// is set (by AUTO_UP/AUTO_UPDOWN on open, or `DESIRED_STATE`).
    pub fn set_carrier(&mut self, channel: u8, plugged: bool) -> Result<()> {
        self.link_mut(channel)?.carrier = plugged;
        Ok(())
    }

    pub(crate) fn egress_queue(&mut self, channel: u8) -> Result<&mut EgressQueue> {
        self.link_mut(channel)?
            .egress
            .as_mut()
            .ok_or(Error::BadChannel)
    }

    /// Emulator only: egress frames waiting on `channel`.
    pub fn egress_len(&self, channel: u8) -> Result<usize> {
        Ok(self
            .link_state(channel)?
            .egress
            .as_ref()
            .map_or(0, |q| q.len()))
    }

    /// Emulator only: the oldest egress frame of `channel`, without
    /// removing it.
    pub fn egress_peek(&self, channel: u8) -> Result<Option<&[u8]>> {
        Ok(self
            .link_state(channel)?
            .egress
            .as_ref()
            .and_then(|q| q.front()))
    }

    /// Emulator only: moves the oldest egress frame of `channel` into
    /// `out`; returns its length, `None` if there is none, `BAD_CONFIG`
    /// (frame kept) if `out` is too small.
    pub fn egress_pop(&mut self, channel: u8, out: &mut [u8]) -> Result<Option<usize>> {
        let q = self.egress_queue(channel)?;
        let Some(f) = q.front() else {
            return Ok(None);
        };
        let dst = out.get_mut(..f.len()).ok_or(Error::BadConfig)?;
        dst.copy_from_slice(f);
        let n = f.len();
        q.pop();
        Ok(Some(n))
    }

    /// Emulator only: hands every egress frame of `channel` to `f`, oldest
    /// first, and removes them; returns how many.
    pub fn drain_egress(&mut self, channel: u8, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let q = self.egress_queue(channel)?;
        let mut n = 0;
        while let Some(frame) = q.front() {
            f(frame);
            q.pop();
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_channels() {
        assert_eq!(channel_of("gbe0"), Some(0));
        assert_eq!(channel_of("gbe15"), Some(15));
        assert_eq!(channel_of("gbe16"), None);
        assert_eq!(channel_of("gbe01"), None);
        assert_eq!(channel_of("xgbe3"), Some(19));
        assert_eq!(channel_of("loop0"), Some(20));
        assert_eq!(channel_of("eth0"), None);
        for ch in 0..24 {
            assert_eq!(channel_of(&name_of(ch).unwrap()), Some(ch));
        }
        assert_eq!(name_of(24), None);
    }

    #[test]
    fn egress_queue_wraps_and_bounds() {
        let mut q = EgressQueue::new(10, 3);
        assert!(q.push(&[1; 4]));
        assert!(q.push(&[2; 4]));
        assert!(!q.push(&[3; 4])); // 8 + 4 > 10, and 4 > start of oldest (0)
        q.pop();
        assert!(q.push(&[3; 4])); // wraps to 0
        assert_eq!(q.front(), Some(&[2u8; 4][..]));
        assert!(!q.push(&[4; 1])); // only 0 bytes between end 4 and oldest 4
        q.pop();
        assert_eq!(q.front(), Some(&[3u8; 4][..]));
        assert!(q.push(&[4; 5])); // after 0..4: 4..9
        assert!(q.push(&[5; 1])); // 9..10
        assert!(!q.push(&[6; 0])); // three frames at most
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn flags_defaults_and_conflicts() {
        let d = flags::DATA | flags::STATS | flags::CTL | flags::AUTO_UPDOWN;
        assert_eq!(effective_flags(0), Ok(d));
        assert_eq!(
            effective_flags(flags::DATA | flags::NO_DATA),
            Err(Error::BadConfig)
        );
        assert_eq!(
            effective_flags(flags::AUTO_UP | flags::AUTO_DOWN),
            Err(Error::BadConfig)
        );
        assert_eq!(effective_flags(0x4000), Err(Error::BadConfig));
    }
}
