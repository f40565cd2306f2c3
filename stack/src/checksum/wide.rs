//! The checksum loop compiled for AVX2, chosen at run time.
//!
//! [`super::sum_run_portable`] is plain Rust; compiled inside a function
//! with `avx2` enabled, the loop vectoriser widens it to 256-bit vectors
//! (32 bytes per load instead of SSE2's 16). Whether the CPU has AVX2 is
//! asked once ([`std::is_x86_feature_detected`] caches the answer), so a
//! build for baseline x86-64 runs on every x86-64 CPU and still takes the
//! wide loop where there is one.

/// The accumulation of `data` by the AVX2 build of the loop, or `None` if
/// this CPU has no AVX2.
#[inline]
pub(super) fn sum_run(data: &[u8]) -> Option<u64> {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: `sum_run_avx2` only needs the CPU to support AVX2 (it has
        // no other precondition: it is safe Rust compiled with the feature
        // enabled), and the line above just checked that it does.
        Some(unsafe { sum_run_avx2(data) })
    } else {
        None
    }
}

/// [`super::sum_run_portable`] compiled with AVX2 enabled.
#[target_feature(enable = "avx2")]
fn sum_run_avx2(data: &[u8]) -> u64 {
    super::sum_run_portable(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_loop_gives_the_portable_value_at_every_length_and_offset() {
        let bytes: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let Some(_) = sum_run(&bytes) else {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        };
        for start in 0..40 {
            for len in (0..1600).chain([2047, 2048, 4095, 4960]) {
                let Some(slice) = bytes.get(start..start + len) else {
                    continue;
                };
                assert_eq!(
                    sum_run(slice),
                    Some(super::super::sum_run_portable(slice)),
                    "start {start} len {len}"
                );
            }
        }
        // All ones and all zeros: the extremes of the accumulators.
        let ones = vec![0xffu8; 4096];
        assert_eq!(sum_run(&ones), Some(super::super::sum_run_portable(&ones)));
        assert_eq!(sum_run(&[0u8; 300]), Some(0));
    }
}
