//! Zero-copy cursors over frames stored in one or more buffers.
//!
//! A cursor is a position in a byte stream made of segments (a plain slice,
//! or the windows of the buffers of a [`Frame`](crate::mem::buf::Frame)) together
//! with the number of bytes left in the stream, as in the thesis' cursors
//! (after Haskell's ByteStrings):
//!
//! * [`Cursor`] reads. It is `Copy` and immutable: [`Cursor::drop`],
//!   [`Cursor::take`], [`Cursor::read`] and friends return new cursors, so
//!   backtracking is just keeping an old one. `take` is O(1) and `drop` is
//!   O(segments crossed).
//! * [`CursorMut`] writes. It advances in place, and can be split into two
//!   disjoint write cursors.
//!
//! [`Cursor::read_with`] and [`CursorMut::write_with`] hand a closure a
//! slice pointing straight into the buffer when the requested bytes lie in
//! one segment, and fall back to a stack scratch area of [`READ_WITH_MAX`]
//! bytes only when they span segments.
//!
//! ```
//! use rusty_stack::mem::buf::{BufPool, PoolConfig};
//!
//! // A frame of 16 bytes in two buffers: 6 bytes, then 10 bytes.
//! let pool = BufPool::new(&PoolConfig::uniform(2));
//! let mut chain = pool.alloc(0).expect("free buffer");
//! chain.push(pool.alloc(0).expect("free buffer")).expect("same pool");
//! chain.set_window(0, 0, 6)?;
//! chain.set_window(1, 0, 10)?;
//! assert_eq!(chain.len(), 16);
//!
//! // Write a 32-bit word across the buffer boundary (bytes 4..8).
//! let mut w = chain.cursor_mut();
//! w.fill(0, 4)?;
//! w.write_with(4, |bytes| bytes.copy_from_slice(&0xdead_beef_u32.to_be_bytes()))?;
//! w.write(b"tail")?;
//! assert_eq!(w.len(), 4);
//!
//! // Read it back: `drop` skips the prefix, `take` limits the view.
//! let c = chain.cursor();
//! let (word, rest) = c.drop(4).read_with(4, |b| {
//!     u32::from_be_bytes([b[0], b[1], b[2], b[3]])
//! })?;
//! assert_eq!(word, 0xdead_beef);
//! assert!(rest.take(4).eq_slice(b"tail"));
//! assert_eq!(rest.len(), 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use crate::checksum::Checksum;
use crate::mem::buf::{Segs, SegsMut};

/// Largest number of bytes [`Cursor::read_with`] and
/// [`CursorMut::write_with`] accept when the bytes span several segments
/// (the size of their stack scratch area).
pub const READ_WITH_MAX: usize = 256;

/// Size of the smaller scratch area used for short spanning requests (a
/// TCP header with options is at most 60 bytes).
const SMALL_SCRATCH: usize = 64;

/// The cursor holds fewer bytes than an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Truncated;

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not enough bytes left in the cursor")
    }
}

impl std::error::Error for Truncated {}

/// Errors from [`Cursor::read_with`] and [`CursorMut::write_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CursorError {
    /// The cursor holds fewer bytes than requested.
    Truncated,
    /// The requested bytes span several segments and are more than
    /// [`READ_WITH_MAX`], the size of the scratch area. Never returned for a
    /// request of at most `READ_WITH_MAX` bytes.
    TooLong,
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CursorError::Truncated => Truncated.fmt(f),
            CursorError::TooLong => write!(
                f,
                "request spans buffers and exceeds the {READ_WITH_MAX}-byte scratch area"
            ),
        }
    }
}

impl std::error::Error for CursorError {}

impl From<Truncated> for CursorError {
    fn from(_: Truncated) -> Self {
        CursorError::Truncated
    }
}

/// A read position in a byte stream made of segments, with the number of
/// bytes left; see the [module documentation](self).
///
/// Invariant: when `len > 0`, `head` is not empty. `head` may run past the
/// end of the cursor, and so may `rest`: both are clipped by `len` on use.
#[derive(Clone, Copy)]
pub struct Cursor<'a> {
    /// Remaining part of the current segment.
    head: &'a [u8],
    /// The following buffers (their windows are the following segments).
    rest: Segs<'a>,
    /// Bytes left in the cursor.
    len: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor with no bytes.
    pub const fn empty() -> Cursor<'a> {
        Cursor {
            head: &[],
            rest: Segs::EMPTY,
            len: 0,
        }
    }

    /// A cursor over the bytes of `slice`.
    pub const fn from_slice(slice: &'a [u8]) -> Cursor<'a> {
        Cursor {
            head: slice,
            rest: Segs::EMPTY,
            len: slice.len(),
        }
    }

    /// A cursor over the windows of a frame's buffers, in order (empty
    /// windows are skipped); `len` is the sum of the windows.
    #[inline]
    pub(crate) fn from_segs(rest: Segs<'a>, len: usize) -> Cursor<'a> {
        Cursor {
            head: &[],
            rest,
            len,
        }
        .consume(0, |_| {})
    }

    /// Number of bytes left.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No bytes left.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Advances over the next `n <= self.len` bytes, handing each non-empty
    /// piece of them to `f`, and restores the invariant.
    #[inline]
    fn consume(self, n: usize, mut f: impl FnMut(&'a [u8])) -> Cursor<'a> {
        debug_assert!(n <= self.len);
        let new_len = self.len - n;
        let mut remaining = n;
        let mut head = self.head;
        let mut rest = self.rest;
        loop {
            if remaining < head.len() {
                let (piece, after) = head.split_at(remaining);
                if !piece.is_empty() {
                    f(piece);
                }
                return Cursor {
                    head: after,
                    rest,
                    len: new_len,
                };
            }
            if !head.is_empty() {
                f(head);
                remaining -= head.len();
            }
            if remaining == 0 && new_len == 0 {
                return Cursor::empty();
            }
            match rest.next_segment() {
                Some(segment) => head = segment,
                // Unreachable while `len` matches the segments.
                None => return Cursor::empty(),
            }
        }
    }

    /// The cursor `n` bytes further on; empty if `n >= self.len()`. Costs
    /// O(segments crossed).
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn drop(self, n: usize) -> Cursor<'a> {
        if n >= self.len {
            Cursor::empty()
        } else {
            self.consume(n, |_| {})
        }
    }

    /// The first `min(n, self.len())` bytes of the cursor. O(1).
    #[inline]
    pub fn take(self, n: usize) -> Cursor<'a> {
        Cursor {
            len: self.len.min(n),
            ..self
        }
    }

    /// `(self.take(n), self.drop(n))`.
    #[inline]
    pub fn split_at(self, n: usize) -> (Cursor<'a>, Cursor<'a>) {
        (self.take(n), self.drop(n))
    }

    /// Copies the next `out.len()` bytes into `out` and returns the cursor
    /// after them. On `Truncated` the contents of `out` are unspecified.
    #[inline]
    pub fn read(self, out: &mut [u8]) -> Result<Cursor<'a>, Truncated> {
        let n = out.len();
        if n > self.len {
            return Err(Truncated);
        }
        if n <= self.head.len() {
            out.copy_from_slice(&self.head[..n]);
            return Ok(self.consume(n, |_| {}));
        }
        let mut off = 0;
        Ok(self.consume(n, |piece| {
            out[off..off + piece.len()].copy_from_slice(piece);
            off += piece.len();
        }))
    }

    /// Calls `f` with the next `n` bytes and returns its result and the
    /// cursor after them.
    ///
    /// Zero-copy when the bytes lie in one segment: `f` gets a slice of the
    /// buffer itself. Otherwise they are copied into a stack scratch area,
    /// which holds at most [`READ_WITH_MAX`] bytes.
    ///
    /// # Errors
    ///
    /// [`CursorError::Truncated`] if fewer than `n` bytes are left;
    /// [`CursorError::TooLong`] if they span segments and
    /// `n > READ_WITH_MAX`. `f` is not called on error.
    #[inline]
    pub fn read_with<R>(
        self,
        n: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<(R, Cursor<'a>), CursorError> {
        if n > self.len {
            return Err(CursorError::Truncated);
        }
        if n <= self.head.len() {
            let result = f(&self.head[..n]);
            return Ok((result, self.consume(n, |_| {})));
        }
        if n > READ_WITH_MAX {
            return Err(CursorError::TooLong);
        }
        // Headers are short: a small scratch area is cheaper to set up.
        if n <= SMALL_SCRATCH {
            let mut scratch = [0u8; SMALL_SCRATCH];
            let after = self.read(&mut scratch[..n])?;
            return Ok((f(&scratch[..n]), after));
        }
        let mut scratch = [0u8; READ_WITH_MAX];
        let after = self.read(&mut scratch[..n])?;
        Ok((f(&scratch[..n]), after))
    }

    /// The next byte, without advancing.
    #[inline]
    pub fn peek_u8(self) -> Result<u8, Truncated> {
        if self.len == 0 {
            return Err(Truncated);
        }
        // Invariant: `head` is not empty when `len > 0`.
        self.head.first().copied().ok_or(Truncated)
    }

    /// The next byte and the cursor after it.
    #[inline]
    pub fn read_u8(self) -> Result<(u8, Cursor<'a>), Truncated> {
        let byte = self.peek_u8()?;
        Ok((byte, self.consume(1, |_| {})))
    }

    /// The next two bytes as a big-endian `u16`, and the cursor after them.
    #[inline]
    pub fn read_be_u16(self) -> Result<(u16, Cursor<'a>), Truncated> {
        let mut bytes = [0u8; 2];
        let after = self.read(&mut bytes)?;
        Ok((u16::from_be_bytes(bytes), after))
    }

    /// The next four bytes as a big-endian `u32`, and the cursor after them.
    #[inline]
    pub fn read_be_u32(self) -> Result<(u32, Cursor<'a>), Truncated> {
        let mut bytes = [0u8; 4];
        let after = self.read(&mut bytes)?;
        Ok((u32::from_be_bytes(bytes), after))
    }

    /// The bytes of the cursor as contiguous, non-empty pieces, in order.
    #[inline]
    pub fn segments(self) -> Segments<'a> {
        Segments { cursor: self }
    }

    /// Adds all bytes of the cursor to the running checksum `acc` (which
    /// handles pieces of odd length).
    pub fn add_to_checksum(self, acc: &mut Checksum) {
        for piece in self.segments() {
            acc.add_bytes(piece);
        }
    }

    /// Copies the bytes of the cursor into a new `Vec`. Allocates: for tests
    /// and debugging only.
    pub fn copy_to_vec(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for piece in self.segments() {
            out.extend_from_slice(piece);
        }
        out
    }

    /// The bytes of the cursor equal `other`.
    pub fn eq_slice(self, other: &[u8]) -> bool {
        if self.len != other.len() {
            return false;
        }
        let mut off = 0;
        for piece in self.segments() {
            if piece != &other[off..off + piece.len()] {
                return false;
            }
            off += piece.len();
        }
        true
    }
}

impl Default for Cursor<'_> {
    fn default() -> Self {
        Cursor::empty()
    }
}

impl fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("len", &self.len)
            .field("segments", &self.segments().count())
            .finish()
    }
}

/// Iterator over the bytes of a [`Cursor`] as contiguous, non-empty pieces
/// (from [`Cursor::segments`]).
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.cursor.len == 0 {
            return None;
        }
        let piece_len = self.cursor.head.len().min(self.cursor.len);
        let piece = &self.cursor.head[..piece_len];
        self.cursor = self.cursor.consume(piece_len, |_| {});
        Some(piece)
    }
}

impl core::iter::FusedIterator for Segments<'_> {}

/// A write position in a byte stream made of segments, with the number of
/// bytes left; see the [module documentation](self). It advances in place.
///
/// The segments are `head`, then the windows of the buffers of `rest`, then
/// `tail`: the tail lets [`CursorMut::split_at`] split inside a buffer
/// without aliasing it. Invariant: when `len > 0`, `head` is not empty.
/// Segments may run past `len`: they are clipped on use.
#[derive(Default)]
pub struct CursorMut<'a> {
    /// Remaining part of the current segment.
    head: &'a mut [u8],
    /// The following buffers (their windows are the following segments).
    rest: SegsMut<'a>,
    /// The last segment, after `rest`.
    tail: &'a mut [u8],
    /// Bytes left in the cursor.
    len: usize,
}

impl<'a> CursorMut<'a> {
    /// A cursor with no bytes.
    pub fn empty() -> CursorMut<'a> {
        CursorMut::default()
    }

    /// A write cursor over the bytes of `slice`.
    pub fn from_slice(slice: &'a mut [u8]) -> CursorMut<'a> {
        let len = slice.len();
        CursorMut {
            head: slice,
            rest: SegsMut::default(),
            tail: &mut [],
            len,
        }
    }

    /// A write cursor over the windows of a frame's buffers, in order
    /// (empty windows are skipped); `len` is the sum of the windows.
    #[inline]
    pub(crate) fn from_segs(rest: SegsMut<'a>, len: usize) -> CursorMut<'a> {
        CursorMut {
            head: &mut [],
            rest,
            tail: &mut [],
            len,
        }
        .consume(0, |_| {})
    }

    /// Number of bytes left.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No bytes left.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Advances over the next `n <= self.len` bytes, handing each non-empty
    /// piece of them to `f`, and restores the invariant.
    #[inline]
    fn consume(self, n: usize, mut f: impl FnMut(&'a mut [u8])) -> CursorMut<'a> {
        debug_assert!(n <= self.len);
        let new_len = self.len - n;
        let mut remaining = n;
        let CursorMut {
            mut head,
            mut rest,
            mut tail,
            ..
        } = self;
        loop {
            if remaining < head.len() {
                let (piece, after) = head.split_at_mut(remaining);
                if !piece.is_empty() {
                    f(piece);
                }
                return CursorMut {
                    head: after,
                    rest,
                    tail,
                    len: new_len,
                };
            }
            if !head.is_empty() {
                remaining -= head.len();
                f(head);
            }
            if remaining == 0 && new_len == 0 {
                return CursorMut::empty();
            }
            match rest.next_segment() {
                Some(segment) => head = segment,
                None if !tail.is_empty() => head = core::mem::take(&mut tail),
                // Unreachable while `len` matches the segments.
                None => return CursorMut::empty(),
            }
        }
    }

    /// Calls `f` with each non-empty piece of the cursor's bytes, in order,
    /// without moving the cursor: a read-only look at what was written
    /// (for instance to checksum a payload a writer just produced).
    pub fn for_each_segment(&self, mut f: impl FnMut(&[u8])) {
        let mut left = self.len;
        let mut visit = |piece: &[u8]| {
            let piece = &piece[..piece.len().min(left)];
            if !piece.is_empty() {
                f(piece);
                left -= piece.len();
            }
        };
        visit(self.head);
        self.rest.for_each(&mut visit);
        visit(self.tail);
    }

    /// Adds the cursor's bytes to a running checksum without moving it.
    pub fn add_to_checksum(&self, acc: &mut Checksum) {
        self.for_each_segment(|piece| acc.add_bytes(piece));
    }

    /// Runs `consume` on `self` in place.
    #[inline]
    fn consume_in_place(&mut self, n: usize, f: impl FnMut(&'a mut [u8])) {
        let this = core::mem::take(self);
        *self = this.consume(n, f);
    }

    /// Copies `data` into the next `data.len()` bytes and advances past
    /// them. All or nothing: on `Truncated` nothing is written.
    #[inline]
    pub fn write(&mut self, data: &[u8]) -> Result<(), Truncated> {
        if data.len() > self.len {
            return Err(Truncated);
        }
        let mut off = 0;
        self.consume_in_place(data.len(), |piece| {
            piece.copy_from_slice(&data[off..off + piece.len()]);
            off += piece.len();
        });
        Ok(())
    }

    /// Calls `f` with the next `n` bytes, mutably, advances past them and
    /// returns the result of `f`.
    ///
    /// Zero-copy when the bytes lie in one segment: `f` gets a slice of the
    /// buffer itself. Otherwise the bytes are copied into a stack scratch
    /// area (at most [`READ_WITH_MAX`] bytes), `f` runs on it, and the
    /// scratch is copied back across the segments. Either way `f` sees the
    /// bytes currently in the buffer.
    ///
    /// # Errors
    ///
    /// [`CursorError::Truncated`] if fewer than `n` bytes are left;
    /// [`CursorError::TooLong`] if they span segments and
    /// `n > READ_WITH_MAX`. On error `f` is not called and the cursor does
    /// not move.
    #[inline]
    pub fn write_with<R>(
        &mut self,
        n: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, CursorError> {
        if n > self.len {
            return Err(CursorError::Truncated);
        }
        if n <= self.head.len() {
            let this = core::mem::take(self);
            let (piece, after) = this.head.split_at_mut(n);
            let result = f(piece);
            *self = CursorMut {
                head: after,
                rest: this.rest,
                tail: this.tail,
                len: this.len - n,
            }
            .consume(0, |_| {});
            return Ok(result);
        }
        if n > READ_WITH_MAX {
            return Err(CursorError::TooLong);
        }
        let mut scratch = [0u8; READ_WITH_MAX];
        let scratch = &mut scratch[..n];
        {
            let mut off = 0;
            let mut peek = self.take(n);
            peek.consume_in_place(n, |piece| {
                scratch[off..off + piece.len()].copy_from_slice(piece);
                off += piece.len();
            });
        }
        let result = f(scratch);
        self.write(scratch)?;
        Ok(result)
    }

    /// Copies all bytes of `src` into the next `src.len()` bytes and
    /// advances past them (for example to echo received bytes). All or
    /// nothing: on `Truncated` nothing is written.
    pub fn write_cursor(&mut self, src: Cursor<'_>) -> Result<(), Truncated> {
        if src.len() > self.len {
            return Err(Truncated);
        }
        for piece in src.segments() {
            self.write(piece)?;
        }
        Ok(())
    }

    /// Writes `value` big-endian and advances past it.
    #[inline]
    pub fn write_be_u16(&mut self, value: u16) -> Result<(), Truncated> {
        self.write(&value.to_be_bytes())
    }

    /// Writes `value` big-endian and advances past it.
    #[inline]
    pub fn write_be_u32(&mut self, value: u32) -> Result<(), Truncated> {
        self.write(&value.to_be_bytes())
    }

    /// Sets the next `n` bytes to `byte` and advances past them. All or
    /// nothing: on `Truncated` nothing is written.
    pub fn fill(&mut self, byte: u8, n: usize) -> Result<(), Truncated> {
        if n > self.len {
            return Err(Truncated);
        }
        self.consume_in_place(n, |piece| piece.fill(byte));
        Ok(())
    }

    /// Skips the next `n` bytes without writing them (the in-place
    /// [`Cursor::drop`], but strict). On `Truncated` the cursor does not
    /// move.
    #[inline]
    pub fn advance(&mut self, n: usize) -> Result<(), Truncated> {
        if n > self.len {
            return Err(Truncated);
        }
        self.consume_in_place(n, |_| {});
        Ok(())
    }

    /// A write cursor over the next `min(n, self.len())` bytes, borrowing
    /// `self`. It does **not** advance `self`: call [`CursorMut::advance`]
    /// afterwards to move past what was written through it.
    #[inline]
    pub fn take(&mut self, n: usize) -> CursorMut<'_> {
        CursorMut {
            head: &mut *self.head,
            rest: self.rest.reborrow(),
            tail: &mut *self.tail,
            len: self.len.min(n),
        }
    }

    /// Splits into two disjoint write cursors: the first `min(n, len)` bytes
    /// and the rest.
    pub fn split_at(self, n: usize) -> (CursorMut<'a>, CursorMut<'a>) {
        if n >= self.len {
            return (self, CursorMut::empty());
        }
        if n == 0 {
            return (CursorMut::empty(), self);
        }
        let len = self.len;
        let CursorMut {
            head, rest, tail, ..
        } = self;
        if n < head.len() {
            let (first, second) = head.split_at_mut(n);
            return (
                CursorMut::from_slice(first),
                CursorMut {
                    head: second,
                    rest,
                    tail,
                    len: len - n,
                },
            );
        }
        // The split point is in a buffer of `rest`, or in `tail`.
        let mut remaining = n - head.len();
        let mut index = rest.count();
        for (i, len) in rest.lens().enumerate() {
            if remaining < len {
                index = i;
                break;
            }
            remaining -= len;
        }
        let (before, mut from) = rest.split(index);
        let (mid, after, tail_of_second): (&mut [u8], SegsMut<'a>, &mut [u8]) =
            match from.next_segment() {
                Some(segment) => (segment, from, tail),
                None => (tail, SegsMut::default(), &mut []),
            };
        // `remaining < mid.len()` while `len` matches the segments.
        let (mid_first, mid_second) = mid.split_at_mut(remaining.min(mid.len()));
        let first = CursorMut {
            head,
            rest: before,
            tail: mid_first,
            len: n,
        };
        let second = CursorMut {
            head: mid_second,
            rest: after,
            tail: tail_of_second,
            len: len - n,
        }
        .consume(0, |_| {});
        (first, second)
    }
}

impl fmt::Debug for CursorMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CursorMut")
            .field("len", &self.len)
            .field("head", &self.head.len())
            .field("rest", &self.rest.count())
            .field("tail", &self.tail.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::{ones_sum, Checksum};
    use crate::mem::buf::{BufPool, Frame, PoolConfig};

    /// A frame with one class-0 buffer per piece, each window starting at
    /// offset 3 (headroom) and holding the piece.
    fn chain_of(pieces: &[&[u8]]) -> Frame {
        let pool = BufPool::new(&PoolConfig::uniform(16));
        let mut chain = pool.alloc(0).unwrap();
        for _ in 1..pieces.len() {
            chain.push(pool.alloc(0).unwrap()).unwrap();
        }
        for (i, piece) in pieces.iter().enumerate() {
            chain.storage_mut(i).unwrap().fill(0);
            chain.storage_mut(i).unwrap()[3..3 + piece.len()].copy_from_slice(piece);
            chain.set_window(i, 3, piece.len()).unwrap();
        }
        chain
    }

    #[test]
    fn empty_windows_are_skipped() {
        let chain = chain_of(&[b"", b"ab", b"", b"", b"c", b""]);
        let c = chain.cursor();
        assert_eq!(c.len(), 3);
        let segs: Vec<&[u8]> = c.segments().collect();
        assert_eq!(segs, [&b"ab"[..], &b"c"[..]]);
        assert_eq!(c.peek_u8(), Ok(b'a'));
        let c2 = c.drop(2);
        assert_eq!(c2.peek_u8(), Ok(b'c'));
        assert_eq!(c2.segments().count(), 1);
        let (a, c) = c.read_u8().unwrap();
        let (b, c) = c.read_u8().unwrap();
        let (cc, c) = c.read_u8().unwrap();
        assert_eq!([a, b, cc], *b"abc");
        assert!(c.is_empty());
        assert_eq!(c.read_u8().unwrap_err(), Truncated);
        let (v, _) = chain.cursor().read_with(3, |s| s.to_vec()).unwrap();
        assert_eq!(v, b"abc");
    }

    #[test]
    fn all_empty_chain() {
        let chain = chain_of(&[b"", b"", b""]);
        let c = chain.cursor();
        assert!(c.is_empty());
        assert_eq!(c.segments().count(), 0);
        assert_eq!(c.peek_u8(), Err(Truncated));
        assert_eq!(c.read_with(0, |s| s.len()).unwrap().0, 0);
        assert_eq!(
            c.read_with(1, |s| s.len()).unwrap_err(),
            CursorError::Truncated
        );
        assert!(c.eq_slice(b""));
        assert!(Cursor::empty().is_empty());
        let mut chain = chain_of(&[b"", b""]);
        let mut w = chain.cursor_mut();
        assert!(w.is_empty());
        assert_eq!(w.write(b""), Ok(()));
        assert_eq!(w.write(b"x"), Err(Truncated));
        assert_eq!(w.write_with(0, |s| s.len()), Ok(0));
    }

    #[test]
    fn zero_and_oversized_counts() {
        let chain = chain_of(&[b"abc", b"def"]);
        let c = chain.cursor();
        assert!(c.drop(0).eq_slice(b"abcdef"));
        assert!(c.take(0).is_empty());
        assert!(c.drop(6).is_empty());
        assert!(c.drop(100).is_empty());
        assert!(c.take(100).eq_slice(b"abcdef"));
        assert_eq!(c.read(&mut []).unwrap().len(), 6);
        assert_eq!(c.read(&mut [0; 7]).unwrap_err(), Truncated);
        assert_eq!(c.read_with(7, |_| ()).unwrap_err(), CursorError::Truncated);
        let (l, r) = c.split_at(4);
        assert!(l.eq_slice(b"abcd") && r.eq_slice(b"ef"));
        let (l, r) = c.split_at(10);
        assert!(l.eq_slice(b"abcdef") && r.is_empty());
        let (l, r) = c.split_at(0);
        assert!(l.is_empty() && r.eq_slice(b"abcdef"));
    }

    #[test]
    fn take_clips_long_head() {
        let chain = chain_of(&[b"abcdef", b"gh"]);
        let c = chain.cursor().drop(1).take(3);
        assert!(c.eq_slice(b"bcd"));
        assert!(!c.eq_slice(b"bce"));
        assert!(!c.eq_slice(b"bc"));
        assert_eq!(c.segments().collect::<Vec<_>>(), [&b"bcd"[..]]);
        assert!(c.drop(2).eq_slice(b"d"));
        assert!(c.drop(3).is_empty());
        assert_eq!(c.read_be_u32().unwrap_err(), Truncated);
        let (w, rest) = c.read_be_u16().unwrap();
        assert_eq!(w, u16::from_be_bytes(*b"bc"));
        assert_eq!(rest.len(), 1);
        assert_eq!(c.read_with(4, |_| ()).unwrap_err(), CursorError::Truncated);
    }

    #[test]
    fn read_with_direct_points_into_buffer() {
        let chain = chain_of(&[b"abcd", b"efgh"]);
        let c = chain.cursor();
        let segments: Vec<&[u8]> = chain.segments().collect();
        let (first, second) = (segments[0], segments[1]);
        let (ptr, after) = c.drop(1).read_with(3, |s| s.as_ptr()).unwrap();
        assert_eq!(ptr, first[1..].as_ptr());
        let (ptr, _) = after.read_with(2, |s| s.as_ptr()).unwrap();
        assert_eq!(ptr, second.as_ptr());
        // Spanning: a copy into the scratch area, same bytes.
        let ((ptr, bytes), after) = c
            .drop(2)
            .read_with(4, |s| (s.as_ptr(), s.to_vec()))
            .unwrap();
        assert_eq!(bytes, b"cdef");
        assert_ne!(ptr, first[2..].as_ptr());
        assert!(!second.as_ptr_range().contains(&ptr));
        assert!(after.eq_slice(b"gh"));
        let (word, _) = c.drop(2).read_be_u32().unwrap();
        assert_eq!(word, u32::from_be_bytes(*b"cdef"));
    }

    #[test]
    fn read_with_too_long_only_when_spanning() {
        let pool = BufPool::new(&PoolConfig::uniform(2));
        let mut chain = pool.alloc(3).unwrap();
        chain.set_window(0, 0, 1000).unwrap();
        let (n, _) = chain.cursor().read_with(1000, |s| s.len()).unwrap();
        assert_eq!(n, 1000);
        chain.push(pool.alloc(3).unwrap()).unwrap();
        let c = chain.cursor();
        assert_eq!(c.read_with(1001, |_| ()).unwrap_err(), CursorError::TooLong);
        assert!(c
            .drop(1000 - READ_WITH_MAX + 1)
            .read_with(READ_WITH_MAX, |_| ())
            .is_ok());
        assert_eq!(
            c.read_with(5000, |_| ()).unwrap_err(),
            CursorError::Truncated
        );
        let mut w = chain.cursor_mut();
        assert_eq!(
            w.write_with(1001, |_| ()).unwrap_err(),
            CursorError::TooLong
        );
        assert_eq!(w.len(), 2024);
        assert_eq!(w.write_with(1000, |s| s.len()), Ok(1000));
        assert_eq!(w.len(), 1024);
    }

    #[test]
    fn from_slice_cursors() {
        let data = [1u8, 2, 3, 4, 5, 6, 7];
        let c = Cursor::from_slice(&data);
        let (a, c) = c.read_be_u16().unwrap();
        let (b, c) = c.read_be_u32().unwrap();
        assert_eq!((a, b), (0x0102, 0x0304_0506));
        assert_eq!(c.peek_u8(), Ok(7));
        assert_eq!(Cursor::default().len(), 0);
        assert!(format!("{:?}", Cursor::from_slice(&data)).contains("len: 7"));
        let mut out = [0u8; 7];
        let mut w = CursorMut::from_slice(&mut out);
        w.write_be_u16(0xa1a2).unwrap();
        w.write_be_u32(0xb1b2_b3b4).unwrap();
        assert_eq!(w.write_be_u16(1), Err(Truncated));
        w.fill(9, 1).unwrap();
        assert!(w.is_empty());
        assert_eq!(out, [0xa1, 0xa2, 0xb1, 0xb2, 0xb3, 0xb4, 9]);
    }

    #[test]
    fn checksum_over_chain() {
        let chain = chain_of(&[b"\x45\x00\x00", b"", b"\x73\x00", b"\x00\x40\x00\x40\x11"]);
        let flat = chain.copy_to_vec();
        for skip in 0..flat.len() {
            let mut acc = Checksum::new();
            chain.cursor().drop(skip).add_to_checksum(&mut acc);
            let norm = |s: u16| if s == 0xffff { 0 } else { s };
            assert_eq!(norm(acc.sum()), norm(ones_sum(&flat[skip..])));
        }
    }

    #[test]
    fn write_across_buffers() {
        let mut chain = chain_of(&[b"....", b"", b"...."]);
        let mut w = chain.cursor_mut();
        assert_eq!(w.len(), 8);
        w.advance(1).unwrap();
        w.write(b"abcde").unwrap();
        assert_eq!(w.write(b"xyz"), Err(Truncated));
        assert_eq!(w.len(), 2);
        assert_eq!(w.advance(3), Err(Truncated));
        w.fill(b'!', 2).unwrap();
        assert_eq!(w.fill(b'!', 1), Err(Truncated));
        assert_eq!(chain.copy_to_vec(), b".abcde!!");
        // Headroom untouched.
        assert_eq!(&chain.storage_mut(0).unwrap()[..3], [0, 0, 0]);
        assert_eq!(chain.storage_mut(2).unwrap()[7], 0);
    }

    #[test]
    fn write_with_direct_and_spanning() {
        let mut chain = chain_of(&[b"abcd", b"efgh"]);
        let first = chain.segments().next().unwrap().as_ptr();
        let mut w = chain.cursor_mut();
        let ptr = w
            .write_with(2, |s| {
                s.copy_from_slice(b"AB");
                s.as_ptr()
            })
            .unwrap();
        assert_eq!(ptr, first);
        // Spanning: sees the current bytes, writes back across the boundary.
        let seen = w
            .write_with(4, |s| {
                let seen = s.to_vec();
                s.copy_from_slice(b"CDEF");
                seen
            })
            .unwrap();
        assert_eq!(seen, b"cdef");
        assert_eq!(w.len(), 2);
        assert_eq!(w.write_with(3, |_| ()), Err(CursorError::Truncated));
        assert_eq!(w.len(), 2);
        // Ending exactly at a buffer boundary leaves a valid cursor.
        let mut w = chain.cursor_mut();
        w.write_with(4, |s| s.copy_from_slice(b"wxyz")).unwrap();
        assert_eq!(w.len(), 4);
        w.write(b"WXYZ").unwrap();
        assert_eq!(chain.copy_to_vec(), b"wxyzWXYZ");
    }

    #[test]
    fn take_does_not_advance() {
        let mut chain = chain_of(&[b"abc", b"def"]);
        let mut w = chain.cursor_mut();
        {
            let mut sub = w.take(4);
            assert_eq!(sub.len(), 4);
            assert_eq!(sub.write(b"12345"), Err(Truncated));
            sub.write(b"1234").unwrap();
            assert!(sub.is_empty());
        }
        assert_eq!(w.len(), 6);
        assert_eq!(w.take(100).len(), 6);
        w.advance(4).unwrap();
        w.write(b"56").unwrap();
        assert_eq!(chain.copy_to_vec(), b"123456");
    }

    #[test]
    fn split_at_mut_everywhere() {
        for n in 0..=9 {
            let mut chain = chain_of(&[b"abc", b"", b"de", b"fgh", b""]);
            let w = chain.cursor_mut();
            let (mut a, mut b) = w.split_at(n);
            let an = n.min(8);
            assert_eq!((a.len(), b.len()), (an, 8 - an));
            a.fill(b'1', an).unwrap();
            assert_eq!(a.write(b"x"), Err(Truncated));
            b.fill(b'2', 8 - an).unwrap();
            assert_eq!(b.write(b"x"), Err(Truncated));
            let mut expect = vec![b'1'; an];
            expect.resize(8, b'2');
            assert_eq!(chain.copy_to_vec(), expect, "n = {n}");
        }
        // Splitting a split: the first half has a tail segment.
        let mut chain = chain_of(&[b"abc", b"defg", b"hi"]);
        let (a, mut b) = chain.cursor_mut().split_at(5);
        let (mut a1, mut a2) = a.split_at(4);
        a1.write(b"ABCD").unwrap();
        a2.write(b"E").unwrap();
        let (mut b1, mut b2) = b.take(3).split_at(1);
        b1.write(b"F").unwrap();
        b2.write(b"GH").unwrap();
        b.advance(3).unwrap();
        b.write(b"I").unwrap();
        assert_eq!(chain.copy_to_vec(), b"ABCDEFGHI");
    }

    #[test]
    fn write_cursor_echoes() {
        let src = chain_of(&[b"hel", b"", b"lo w", b"orld"]);
        let mut dst = chain_of(&[b"..", b".....", b"....."]);
        let mut w = dst.cursor_mut();
        w.write_cursor(src.cursor()).unwrap();
        assert_eq!(w.write_cursor(src.cursor()), Err(Truncated));
        w.write_cursor(src.cursor().take(1)).unwrap();
        assert_eq!(dst.copy_to_vec(), b"hello worldh");
    }

    #[test]
    fn errors_display() {
        assert!(Truncated.to_string().contains("not enough"));
        assert_eq!(CursorError::from(Truncated), CursorError::Truncated);
        assert!(CursorError::TooLong.to_string().contains("256"));
        assert!(format!("{:?}", CursorMut::empty()).contains("len: 0"));
    }
}

#[cfg(test)]
mod cursor_mut_read_tests {
    use super::*;
    use crate::mem::buf::{BufPool, PoolConfig};

    #[test]
    fn written_bytes_can_be_summed_in_place() {
        let pool = BufPool::new(&PoolConfig::default().with_chaining(true));
        let mut chain = pool.alloc_chain(700).unwrap();
        assert!(chain.buffer_count() > 1);
        let data: Vec<u8> = (0..700u32).map(|i| (i * 13) as u8).collect();
        let mut cursor = chain.cursor_mut();
        let (_, mut second) = core::mem::take(&mut cursor).split_at(3);
        second.write(&data[3..]).unwrap();
        let mut view = chain.cursor_mut();
        view.advance(3).unwrap();
        let mut pieces = Vec::new();
        view.for_each_segment(|p| pieces.extend_from_slice(p));
        assert_eq!(pieces, &data[3..]);
        let mut acc = Checksum::new();
        view.take(100).add_to_checksum(&mut acc);
        assert_eq!(acc.sum(), crate::checksum::ones_sum(&data[3..103]));
    }
}
