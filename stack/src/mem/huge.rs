//! Large start-up allocations in huge pages.
//!
//! A stack reads a few large regions over and over: its buffer pool, and
//! the static pages an application serves by reference. With 4 KB pages a
//! 63 MB page set spans about 15,000 of them, far more than the second-level
//! TLB holds (a few thousand entries), so streaming a 126 KB body through
//! the checksum costs a page walk every 4 KB. In 2 MB pages the same set is
//! 32 entries.
//!
//! [`zeroed`] gives such a region: zeroed bytes whose memory, on Linux, is
//! advised for transparent huge pages (`madvise(MADV_HUGEPAGE)`) *before*
//! it is first touched, so the kernel backs it with 2 MB pages as it is
//! first written (where `/sys/kernel/mm/transparent_hugepage/enabled` is
//! `madvise` or `always`, and memory can be found; otherwise it stays in
//! 4 KB pages, which changes nothing but speed). Small regions, other
//! targets and a refused advice get ordinary memory: the advice is a hint,
//! the bytes are the same.

/// The size of a transparent huge page on x86-64 (and the alignment the
/// advised part of a region is rounded to).
pub const HUGE_PAGE: usize = 2 << 20;

/// Regions smaller than this are not advised: they hold only a few whole
/// huge pages, and the allocator serves them from its shared heap, whose
/// pages were usually touched already.
pub const MIN_ADVISED: usize = 4 * HUGE_PAGE;

/// `len` zeroed bytes, in huge pages where the system gives them (see the
/// module docs). Allocates once, exactly `len` bytes; call it at start-up.
///
/// A large region comes zeroed from the allocator (`calloc`, which for
/// large sizes maps fresh pages from the kernel, zero already), so nothing
/// writes it here and a part that is never used is never backed by memory
/// at all (a pool sized for the worst case mostly is not); the advice is
/// given before anything touches it. (A region the allocator serves from
/// its heap instead, touched before, gets huge pages only when the
/// kernel's `khugepaged` collapses it.)
///
/// ```
/// use rusty_stack::mem::huge;
///
/// let region = huge::zeroed(16 << 20);
/// assert_eq!(region.len(), 16 << 20);
/// assert!(region.iter().all(|&b| b == 0));
/// ```
pub fn zeroed(len: usize) -> Box<[u8]> {
    let mut bytes: Box<[u8]> = vec![0u8; len].into_boxed_slice();
    if len >= MIN_ADVISED {
        advise(bytes.as_mut_ptr() as usize, len);
    }
    bytes
}

/// The part of `[start, start + len)` made of whole huge pages, as
/// (aligned start, length); `None` if no whole huge page fits.
fn huge_interior(start: usize, len: usize) -> Option<(usize, usize)> {
    let first = start.checked_add(HUGE_PAGE - 1)? & !(HUGE_PAGE - 1);
    let end = start.checked_add(len)? & !(HUGE_PAGE - 1);
    (end > first).then(|| (first, end - first))
}

/// Advises the whole huge pages inside `[start, start + len)` for
/// transparent huge pages; a refusal (an old kernel, THP compiled out) is
/// ignored, as the memory then simply stays in small pages.
#[cfg(target_os = "linux")]
fn advise(start: usize, len: usize) {
    let Some((first, bytes)) = huge_interior(start, len) else {
        return;
    };
    // SAFETY: `[first, first + bytes)` lies inside an allocation the caller
    // owns, and MADV_HUGEPAGE only changes how the kernel backs those
    // virtual pages: it neither maps nor unmaps memory nor changes any
    // byte (zero pages stay zero, in small pages or huge), so no Rust
    // reference or invariant can be affected.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::madvise(first as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE) };
}

/// Other targets: no advice, ordinary memory.
#[cfg(not(target_os = "linux"))]
fn advise(_start: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interior_is_the_whole_huge_pages_inside() {
        assert_eq!(huge_interior(0, HUGE_PAGE), Some((0, HUGE_PAGE)));
        assert_eq!(huge_interior(1, HUGE_PAGE), None);
        assert_eq!(
            huge_interior(1, 2 * HUGE_PAGE),
            Some((HUGE_PAGE, HUGE_PAGE))
        );
        assert_eq!(
            huge_interior(HUGE_PAGE - 16, 3 * HUGE_PAGE + 32),
            Some((HUGE_PAGE, 3 * HUGE_PAGE))
        );
        assert_eq!(huge_interior(4096, 4096), None);
        assert_eq!(huge_interior(usize::MAX - 10, 100), None);
    }

    #[test]
    fn zeroed_regions_of_every_size_are_zero_and_writable() {
        for len in [
            0,
            1,
            4095,
            MIN_ADVISED - 1,
            MIN_ADVISED,
            MIN_ADVISED + 12_345,
        ] {
            let mut region = zeroed(len);
            assert_eq!(region.len(), len);
            assert!(region.iter().all(|&b| b == 0), "len {len}");
            for (i, b) in region.iter_mut().enumerate() {
                *b = i as u8;
            }
            assert!(region.iter().enumerate().all(|(i, &b)| b == i as u8));
        }
    }

    /// On Linux with transparent huge pages available, an advised region
    /// is (at least partly) backed by huge pages: `/proc/self/smaps` shows
    /// `AnonHugePages` in the mapping that holds it. Skips, saying why,
    /// where THP is off or the file is unreadable.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_advised_region_is_backed_by_huge_pages_where_the_system_has_them() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!(
                "skipped: transparent huge pages are not enabled ({})",
                mode.trim()
            );
            return;
        }
        let mut region = zeroed(8 * HUGE_PAGE);
        // Memory is backed when first touched.
        region.fill(1);
        // The advice splits the mapping: the advised part is its own entry.
        let (at, _) = huge_interior(region.as_ptr() as usize, region.len()).unwrap();
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            eprintln!("skipped: /proc/self/smaps is unreadable");
            return;
        };
        let huge_kb = mapping_huge_kb(&smaps, at).expect("the advised mapping is in smaps");
        // Memory for huge pages can be short (fragmentation); demand one.
        assert!(
            huge_kb >= (HUGE_PAGE / 1024) as u64,
            "no huge page behind an advised 16 MB region ({huge_kb} kB)"
        );
        drop(region);
    }

    /// `AnonHugePages` of the smaps entry whose range contains `at`.
    #[cfg(target_os = "linux")]
    fn mapping_huge_kb(smaps: &str, at: usize) -> Option<u64> {
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = first.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = (lo..hi).contains(&at);
                    continue;
                }
            }
            if inside {
                if let Some(rest) = line.strip_prefix("AnonHugePages:") {
                    return rest.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
        None
    }
}
