//! Descriptor layouts, bit for bit against the fact sheet (§2): each field
//! set to all ones lands exactly on its documented bits, the constructors
//! write the documented words, and pack/unpack round trips.

use mpipe_desc::{BDesc, BufferSize, Chain, EDesc, IDesc, MAX_XFER_SIZE, STATUS_BAD};
use proptest::prelude::*;

fn mask(word: usize, lo: u32, width: u32, words: usize) -> Vec<u64> {
    let mut v = vec![0u64; words];
    v[word] = if width == 64 {
        u64::MAX
    } else {
        ((1u64 << width) - 1) << lo
    };
    v
}

type ISet = fn(&mut IDesc);
type ESet = fn(&mut EDesc);
type BSet = fn(&mut BDesc);

/// (name, set to all ones, word, first bit, width) from the fact sheet.
const IDESC_FIELDS: &[(&str, ISet, usize, u32, u32)] = &[
    ("notif_ring", |d| d.set_notif_ring(!0), 0, 0, 8),
    ("channel", |d| d.set_channel(!0), 0, 8, 5),
    ("me", |d| d.set_me(true), 0, 14, 1),
    ("tr", |d| d.set_tr(true), 0, 15, 1),
    ("l2_size", |d| d.set_l2_size(!0), 0, 16, 14),
    ("ce", |d| d.set_ce(true), 0, 30, 1),
    ("ct", |d| d.set_ct(true), 0, 31, 1),
    ("bucket_id", |d| d.set_bucket_id(!0), 0, 32, 13),
    ("cs", |d| d.set_cs(true), 0, 48, 1),
    ("nr", |d| d.set_nr(true), 0, 49, 1),
    ("dest", |d| d.set_dest(!0), 0, 50, 2),
    ("sq", |d| d.set_sq(true), 0, 52, 1),
    ("ts", |d| d.set_ts(true), 0, 53, 1),
    ("ps", |d| d.set_ps(true), 0, 54, 1),
    ("be", |d| d.set_be(true), 0, 55, 1),
    ("ctr0", |d| d.set_ctr0(!0), 0, 56, 5),
    ("sw_inst", |d| d.set_sw_inst(true), 0, 63, 1),
    ("ctr1", |d| d.set_ctr1(!0), 1, 0, 5),
    ("csum_start", |d| d.set_csum_start(!0), 1, 8, 8),
    ("csum_seed_val", |d| d.set_csum_seed_val(!0), 1, 16, 16),
    ("custom0", |d| d.set_custom0(!0), 1, 32, 32),
    ("custom1", |d| d.set_custom1(!0), 2, 0, 64),
    ("custom2", |d| d.set_custom2(!0), 3, 0, 64),
    ("custom3", |d| d.set_custom3(!0), 4, 0, 64),
    ("gp_sqn", |d| d.set_gp_sqn(!0), 5, 0, 16),
    ("packet_sqn", |d| d.set_packet_sqn(!0), 5, 16, 48),
    ("time_stamp_ns", |d| d.set_time_stamp_ns(!0), 6, 0, 32),
    ("time_stamp_sec", |d| d.set_time_stamp_sec(!0), 6, 32, 32),
    ("c1_vlan", |d| d.set_c1_vlan(!0), 2, 0, 16),
    ("c1_ethertype", |d| d.set_c1_ethertype(!0), 2, 16, 16),
    ("c1_l2_offset", |d| d.set_c1_l2_offset(!0), 2, 32, 8),
    ("c1_l3_offset", |d| d.set_c1_l3_offset(!0), 2, 40, 8),
    ("c1_l4_offset", |d| d.set_c1_l4_offset(!0), 2, 48, 8),
    ("c1_status", |d| d.set_c1_status(!0), 2, 56, 8),
];

const EDESC_FIELDS: &[(&str, ESet, usize, u32, u32)] = &[
    ("gen", |d| d.set_gen(!0), 0, 0, 1),
    ("efifo_sel", |d| d.set_efifo_sel(!0), 0, 1, 6),
    ("csum", |d| d.set_csum(true), 0, 8, 1),
    ("ns", |d| d.set_ns(true), 0, 9, 1),
    ("notif", |d| d.set_notif(true), 0, 10, 1),
    ("bound", |d| d.set_bound(true), 0, 11, 1),
    ("xfer_size", |d| d.set_xfer_size(!0), 0, 16, 14),
    ("csum_dest", |d| d.set_csum_dest(!0), 0, 32, 8),
    ("csum_start", |d| d.set_csum_start(!0), 0, 40, 8),
    ("csum_seed", |d| d.set_csum_seed(!0), 0, 48, 16),
];

/// The fields of a word holding a buffer descriptor (the bdesc itself,
/// idesc word 7, edesc word 1): (name, set to all ones, first bit, width).
const BDESC_WORD_FIELDS: &[(&str, BSet, u32, u32)] = &[
    ("va", |b| b.set_va(-1), 0, 42),
    ("stack_idx", |b| b.set_stack_idx(!0), 48, 5),
    ("inst", |b| b.set_inst(!0), 56, 2),
    ("hwb", |b| b.set_hwb(true), 58, 1),
    ("size", |b| b.set_size(!0), 59, 3),
    ("c", |b| b.set_c(Chain::Invalid), 62, 2),
];

/// The bdesc header's split of `va`: the offset in the buffer (the
/// header's `__reserved_0`, rusty's reading of the low 7 address bits) and
/// the address >> 7.
const BDESC_VA_SPLIT: &[(&str, BSet, u32, u32)] = &[
    ("__reserved_0", |b| b.set_va(127), 0, 7),
    ("va", |b| b.set_va(-128), 7, 35),
];

/// A buffer descriptor with the one field `set` writes.
fn one(set: fn(&mut BDesc)) -> BDesc {
    let mut b = BDesc(0);
    set(&mut b);
    b
}

/// The words of each descriptor with the one field `set` writes.
fn idesc_with(set: ISet) -> Vec<u64> {
    let mut d = IDesc::default();
    set(&mut d);
    d.words.to_vec()
}
fn edesc_with(set: ESet) -> Vec<u64> {
    let mut d = EDesc::default();
    set(&mut d);
    d.words.to_vec()
}
fn idesc_with_bdesc(set: BSet) -> Vec<u64> {
    let mut d = IDesc::default();
    d.set_bdesc(one(set));
    d.words.to_vec()
}
fn edesc_with_bdesc(set: BSet) -> Vec<u64> {
    let mut d = EDesc::default();
    d.set_bdesc(one(set));
    d.words.to_vec()
}

#[test]
fn idesc_fields_sit_on_their_documented_bits() {
    assert_eq!(std::mem::size_of::<IDesc>(), 64);
    for &(name, set, w, lo, width) in IDESC_FIELDS {
        assert_eq!(idesc_with(set), mask(w, lo, width, 8), "idesc {name}");
    }
    for &(name, set, lo, width) in BDESC_WORD_FIELDS {
        assert_eq!(
            idesc_with_bdesc(set),
            mask(7, lo, width, 8),
            "idesc w7 {name}"
        );
    }
}

#[test]
fn edesc_fields_sit_on_their_documented_bits() {
    assert_eq!(std::mem::size_of::<EDesc>(), 16);
    for &(name, set, w, lo, width) in EDESC_FIELDS {
        assert_eq!(edesc_with(set), mask(w, lo, width, 2), "edesc {name}");
    }
    for &(name, set, lo, width) in BDESC_WORD_FIELDS {
        assert_eq!(
            edesc_with_bdesc(set),
            mask(1, lo, width, 2),
            "edesc w1 {name}"
        );
    }
    // The word's own hwb setter.
    assert_eq!(edesc_with(|d| d.set_hwb(true)), mask(1, 58, 1, 2));
}

#[test]
fn bdesc_fields_and_word7_sharing() {
    assert_eq!(std::mem::size_of::<BDesc>(), 8);
    for &(name, set, lo, width) in BDESC_WORD_FIELDS.iter().chain(BDESC_VA_SPLIT) {
        assert_eq!(vec![one(set).0], mask(0, lo, width, 1), "bdesc {name}");
    }
    // va is signed: bit 41 extends.
    let mut b = BDesc(0);
    b.set_va(-128);
    assert_eq!(b.va(), -128);
    assert_eq!(BDesc(1 << 41).va(), -(1 << 41));
    // Bits 7–41 are address >> 7, bits 0–6 the offset.
    let b = BDesc::new(0x1234_5680 + 5, 3, 4, Chain::Chained);
    assert_eq!((b.0 >> 7) & ((1 << 35) - 1), 0x1234_5680 >> 7);
    assert_eq!(
        (b.offset(), b.buffer_va(), b.stack_idx(), b.size()),
        (5, 0x1234_5680, 3, 4)
    );
    assert!(b.hwb() && b.is_valid());
    assert!(!BDesc::new(0, 0, 0, Chain::Invalid).is_valid());
    assert!(!BDesc::new(0, 0, 0, Chain::NotRdy).is_valid());
    // idesc word 7, edesc word 1 and bdesc are the same layout.
    let mut i = IDesc::default();
    i.set_bdesc(b);
    assert_eq!(i.words[7], b.0);
    assert_eq!(
        (i.va(), i.stack_idx(), i.size(), i.c(), i.hwb()),
        (b.va(), 3, 4, Chain::Chained, true)
    );
    let mut e = EDesc::default();
    e.set_bdesc(b);
    assert_eq!(e.words[1], b.0);
    assert_eq!((e.va(), e.hwb()), (b.va(), true));
}

#[test]
fn constructors_write_the_documented_words() {
    // hwb is set by `new`; every other bit comes from the arguments.
    assert_eq!(
        BDesc::new(0, 1, 0, Chain::Unchained).0,
        (1 << 48) | (1 << 58)
    );
    assert_eq!(
        BDesc::new(0, 0, 7, Chain::Unchained).0,
        (7 << 59) | (1 << 58)
    );
    assert_eq!(BDesc::new(0, 0, 0, Chain::Invalid).0, (3 << 62) | (1 << 58));
    assert_eq!(
        BDesc::new(0x1_0000_0082, 0, 0, Chain::Unchained).0 & ((1 << 42) - 1),
        0x1_0000_0082
    );
    let b = BDesc::new(0x1000, 3, BufferSize::B1664 as u8, Chain::Unchained);
    let e = EDesc::new(b, 1514, true);
    assert_eq!(e.words, [(1514 << 16) | (1 << 11), b.0]);
    assert_eq!((e.xfer_size(), e.bound(), e.csum()), (1514, true, false));
    assert_eq!(EDesc::new(b, 60, false).words[0], 60 << 16);
    assert_eq!(
        EDesc::new(b, MAX_XFER_SIZE as u32, false).xfer_size(),
        0x3FFF
    );
    assert_eq!(
        EDesc::new(b, MAX_XFER_SIZE as u32 + 1, false).xfer_size(),
        0,
        "14 bits"
    );
    let c = e.with_checksum(34, 50, 0x1234);
    assert_eq!(c.words[1], b.0);
    assert_eq!(
        c.words[0],
        e.words[0] | (1 << 8) | (50 << 32) | (34 << 40) | (0x3412 << 48),
        "csum, dest, start, seed in network order"
    );
    assert_eq!(
        (c.csum_start(), c.csum_dest(), c.csum_seed_host()),
        (34, 50, 0x1234)
    );
}

#[test]
fn idesc_reads_a_hand_built_descriptor() {
    let mut d = IDesc::default();
    d.words[0] = 3 | (5 << 8) | (1514 << 16) | (77 << 32) | (1 << 55);
    d.words[1] = 0xdead_beef << 32;
    d.words[2] = (u64::from(STATUS_BAD) << 56) | (14 << 48) | (14 << 40) | (0x0800 << 16) | 0xFFFF;
    d.words[7] = BDesc::new(0x8002, 1, 4, Chain::Unchained).0;
    assert_eq!((d.notif_ring(), d.channel(), d.l2_size()), (3, 5, 1514));
    assert_eq!(
        (d.bucket_id(), d.be(), d.flow_hash()),
        (77, true, 0xdead_beef)
    );
    assert_eq!(
        (
            d.c1_vlan(),
            d.c1_ethertype(),
            d.c1_l3_offset(),
            d.c1_l4_offset()
        ),
        (0xFFFF, 0x0800, 14, 14)
    );
    assert_eq!(d.c1_status(), STATUS_BAD);
    assert_eq!(
        (d.va(), d.stack_idx(), d.size(), d.c(), d.hwb()),
        (0x8002, 1, 4, Chain::Unchained, true)
    );
    assert_eq!(d.bdesc().buffer_size(), BufferSize::B1664);
}

#[test]
fn helpers_follow_the_fact_sheet() {
    let mut d = IDesc::default();
    d.set_l2_size(100);
    d.set_c1_l2_offset(4);
    d.set_bdesc(BDesc::new(0x10002, 0, 4, Chain::Unchained));
    assert_eq!(
        (d.xfer_size(), d.l2_length(), d.l2_start()),
        (100, 96, 0x10006)
    );
    assert!(!d.is_bad() && !d.has_error());
    for f in [IDesc::set_me, IDesc::set_tr, IDesc::set_ce, IDesc::set_be] {
        let mut x = d;
        f(&mut x, true);
        assert!(x.has_error() && x.is_bad());
    }
    let mut x = d;
    x.set_c1_status(0x80);
    assert!(x.is_bad() && !x.has_error());
    let mut x = d;
    x.set_cs(true);
    x.set_csum_seed_val(0xFFFF);
    assert!(!x.is_bad());
    x.set_csum_seed_val(0xFFFE);
    assert!(x.is_bad());
    // copy_idesc: word 1 = word 7, ns = has_error, bound, xfer_size.
    let mut bad = d;
    bad.set_be(true);
    let e = EDesc::copy_idesc(&bad);
    assert_eq!(e.words[1], d.words[7]);
    assert!(e.ns() && e.bound() && !e.csum());
    assert_eq!(e.xfer_size(), 100);
    assert!(!EDesc::copy_idesc(&d).ns());
    // The seed is in network byte order.
    let mut e = EDesc::default();
    e.set_csum_seed_host(0x1234);
    assert_eq!(e.csum_seed(), 0x3412);
    assert_eq!(e.csum_seed_host(), 0x1234);
}

proptest! {
    #[test]
    fn idesc_bytes_round_trip(words in proptest::array::uniform8(any::<u64>())) {
        let d = IDesc { words };
        prop_assert_eq!(IDesc::from_bytes(&d.to_bytes()), d);
        prop_assert_eq!(&d.to_bytes()[8..16], &words[1].to_le_bytes()[..]);
    }

    #[test]
    fn idesc_fields_round_trip_without_disturbing_others(
        words in proptest::array::uniform8(any::<u64>()),
        l2 in any::<u32>(), bucket in any::<u16>(), hash in any::<u32>(), va in any::<i64>(),
    ) {
        let mut d = IDesc { words };
        d.set_l2_size(l2);
        d.set_bucket_id(bucket);
        d.set_custom0(hash);
        let mut b = d.bdesc();
        b.set_va(va);
        d.set_bdesc(b);
        prop_assert_eq!(d.l2_size(), l2 & 0x3FFF);
        prop_assert_eq!(d.bucket_id(), bucket & 0x1FFF);
        prop_assert_eq!(d.custom0(), hash);
        prop_assert_eq!(d.va(), (va << 22) >> 22);
        // Untouched words and bits are unchanged.
        for w in [2, 3, 4, 5, 6] {
            prop_assert_eq!(d.words[w], words[w]);
        }
        let touched0 = (0x3FFFu64 << 16) | (0x1FFF << 32);
        prop_assert_eq!(d.words[0] & !touched0, words[0] & !touched0);
        prop_assert_eq!(d.words[1] & 0xFFFF_FFFF, words[1] & 0xFFFF_FFFF);
        prop_assert_eq!(d.words[7] >> 42, words[7] >> 42);
    }

    #[test]
    fn edesc_fields_round_trip(w0 in any::<u64>(), xfer in any::<u32>(), dest in any::<u8>(), start in any::<u8>(), seed in any::<u16>()) {
        let mut e = EDesc { words: [w0, 0] };
        e.set_xfer_size(xfer);
        e.set_csum_dest(dest);
        e.set_csum_start(start);
        e.set_csum_seed(seed);
        prop_assert_eq!((e.xfer_size(), e.csum_dest(), e.csum_start(), e.csum_seed()), (xfer & 0x3FFF, dest, start, seed));
        prop_assert_eq!(e.words[0] & 0xFFFF, w0 & 0xFFFF);
        prop_assert_eq!(e.words[0] & (3 << 30), w0 & (3 << 30));
    }
}

/// Every bit-field of the C header `mpipe-emu/include/gxio/mpipe.h` (the
/// idesc's `custom1` sub-fields are accessors, not bit-fields), with the
/// words the Rust setter of the same field gives: `(C type, C field,
/// words)`.
fn header_fields() -> Vec<(&'static str, &'static str, Vec<u64>)> {
    let mut fields = Vec::new();
    for &(name, set, ..) in IDESC_FIELDS {
        if !name.starts_with("c1_") {
            fields.push(("gxio_mpipe_idesc_t", name, idesc_with(set)));
        }
    }
    for &(name, set, ..) in EDESC_FIELDS {
        fields.push(("gxio_mpipe_edesc_t", name, edesc_with(set)));
    }
    for &(name, set, ..) in BDESC_WORD_FIELDS {
        fields.push(("gxio_mpipe_idesc_t", name, idesc_with_bdesc(set)));
        fields.push(("gxio_mpipe_edesc_t", name, edesc_with_bdesc(set)));
    }
    let split = BDESC_VA_SPLIT.iter().chain(&BDESC_WORD_FIELDS[1..]);
    for &(name, set, ..) in split {
        fields.push(("gxio_mpipe_bdesc_t", name, vec![one(set).0]));
    }
    fields
}

/// A C program that sets each field of [`header_fields`] to all ones (`= 0`
/// then `--`, which wraps an unsigned bit-field without a constant
/// overflow warning) in a zeroed descriptor and prints its words.
fn header_program(fields: &[(&str, &str, Vec<u64>)]) -> String {
    let mut c = String::from(
        "#include <gxio/mpipe.h>\n#include <stdio.h>\n#include <string.h>\n\n\
         static void show(const char *type, const char *field, const void *d, size_t size) {\n\
         \x20 uint64_t w[8];\n\
         \x20 memcpy(w, d, size);\n\
         \x20 printf(\"%s %s\", type, field);\n\
         \x20 for (size_t i = 0; i < size / 8; i++) printf(\" %016llx\", (unsigned long long)w[i]);\n\
         \x20 printf(\"\\n\");\n\
         }\n\nint main(void) {\n",
    );
    for (ty, field, _) in fields {
        c.push_str(&format!(
            "  {{ {ty} d; memset(&d, 0, sizeof d); d.{field} = 0; d.{field}--; \
             show(\"{ty}\", \"{field}\", &d, sizeof d); }}\n"
        ));
    }
    c.push_str("  return 0;\n}\n");
    c
}

/// The C header's bit-fields, compiled with gcc, lie on the same bits as
/// this crate's accessors (and the descriptors have the same sizes).
/// Without gcc the test is skipped with a message, unless `CI=true`.
#[test]
fn c_header_bitfields_match_the_accessors() {
    use std::process::Command;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if Command::new("gcc").arg("--version").output().is_err() {
        assert!(!ci, "gcc is required when CI=true");
        eprintln!("SKIP c_header_bitfields_match_the_accessors: gcc not found");
        return;
    }
    let include = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../include");
    let fields = header_fields();
    let base = std::env::temp_dir().join(format!("mpipe_desc_header-{}", std::process::id()));
    let (src, exe) = (base.with_extension("c"), base.with_extension("bin"));
    std::fs::write(&src, header_program(&fields)).expect("write the C program");
    let gcc = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run gcc");
    let _ = std::fs::remove_file(&src);
    assert!(
        gcc.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    let run = Command::new(&exe).output().expect("run the C program");
    let _ = std::fs::remove_file(&exe);
    assert!(run.status.success());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), fields.len(), "one line a field:\n{stdout}");
    for ((ty, field, words), line) in fields.iter().zip(lines) {
        let hex: String = words.iter().map(|w| format!(" {w:016x}")).collect();
        assert_eq!(line, format!("{ty} {field}{hex}"), "{ty}.{field}: C ~ Rust");
    }
}
