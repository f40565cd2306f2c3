//! The documented error codes: values as in the fact sheet, and each code
//! the emulator can return reached through the API.

use mpipe_emu::{BucketMode, BufferSize, Context, Error, Rules, ALLOC_FIXED};

#[test]
fn values_match_the_fact_sheet() {
    let table = [
        ("GXIO_ERR_IOTLB_ENTRY", -1111),
        ("GXIO_ERR_INVAL_MEMORY_SIZE", -1112),
        ("GXIO_ERR_TIMEOUT", -1115),
        ("GXIO_ERR_NO_DEVICE", -1116),
        ("GXIO_ERR_BUSY", -1117),
        ("GXIO_ERR_PERM", -1119),
        ("GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE", -1131),
        ("GXIO_MPIPE_ERR_NO_BUFFER_STACK", -1140),
        ("GXIO_MPIPE_ERR_BAD_BUFFER_STACK", -1141),
        ("GXIO_MPIPE_ERR_NO_NOTIF_RING", -1142),
        ("GXIO_MPIPE_ERR_BAD_NOTIF_RING", -1143),
        ("GXIO_MPIPE_ERR_NO_NOTIF_GROUP", -1144),
        ("GXIO_MPIPE_ERR_BAD_NOTIF_GROUP", -1145),
        ("GXIO_MPIPE_ERR_NO_BUCKET", -1146),
        ("GXIO_MPIPE_ERR_BAD_BUCKET", -1147),
        ("GXIO_MPIPE_ERR_NO_EDMA_RING", -1148),
        ("GXIO_MPIPE_ERR_BAD_EDMA_RING", -1149),
        ("GXIO_MPIPE_ERR_BAD_CHANNEL", -1150),
        ("GXIO_MPIPE_ERR_BAD_CONFIG", -1151),
        ("GXIO_MPIPE_ERR_IQUEUE_EMPTY", -1152),
        ("GXIO_MPIPE_ERR_RULES_EMPTY", -1160),
        ("GXIO_MPIPE_ERR_RULES_FULL", -1161),
        ("GXIO_MPIPE_ERR_RULES_CORRUPT", -1162),
        ("GXIO_MPIPE_ERR_RULES_INVALID", -1163),
    ];
    assert_eq!(Error::ALL.len(), table.len());
    for (e, (name, value)) in Error::ALL.iter().zip(table) {
        assert_eq!((e.name(), e.code()), (name, value));
        assert_eq!(Error::from_code(value), Some(*e));
        assert_eq!(e.to_string(), format!("{name} ({value})"));
    }
    assert_eq!(Error::from_code(0), None);
    assert_eq!(Error::from_code(-1170), None);
}

#[test]
fn the_header_defines_the_same_values() {
    let h = include_str!("../include/gxio/mpipe.h");
    for e in Error::ALL {
        let line = h
            .lines()
            .find(|l| l.starts_with("#define ") && l.split_whitespace().nth(1) == Some(e.name()))
            .unwrap_or_else(|| panic!("{} missing from the header", e.name()));
        assert!(line.ends_with(&format!("({})", e.code())), "{line}");
    }
}

/// Every code except `GXIO_ERR_TIMEOUT` (the emulator never waits) comes out
/// of some call.
#[test]
fn each_code_is_reachable() {
    let mut seen = Vec::new();
    let mut c = Context::init(0).unwrap();
    let mut note = |r: Result<(), Error>| seen.push(r.unwrap_err());
    note(Context::init(2).map(|_| ()));
    note(c.link_open("eth9", 0).map(|_| ()));
    note(c.init_buffer_stack(0, BufferSize::B128, 1));
    note(BufferSize::from_enum(9).map(|_| ()).map_err(Error::from));
    let s = c.alloc_buffer_stacks(1, 0, 0).unwrap();
    c.init_buffer_stack(s, BufferSize::B128, 1).unwrap();
    note(c.push_buffer(s, 0x1000));
    let va = c.populate_buffer_stack(s, 1).unwrap();
    note(c.push_buffer(s, va));
    note(c.register_page(s, va + 1, 65536));
    note(c.alloc_buffer_stacks(32, 0, 0).map(|_| ()));
    note(c.alloc_notif_rings(300, 0, 0).map(|_| ()));
    note(c.iqueue_try_get(3).map(|_| ()));
    note(c.alloc_notif_groups(1, 40, ALLOC_FIXED).map(|_| ()));
    note(c.init_notif_group_and_buckets(0, 0, 1, 0, 1, BucketMode::RoundRobin));
    note(c.alloc_buckets(5000, 0, 0).map(|_| ()));
    note(c.bucket(7).map(|_| ()));
    note(c.alloc_edma_rings(25, 0, 0).map(|_| ()));
    note(c.equeue_reserve(0, 1).map(|_| ()));
    note(c.inject(31, &[0; 60]).map(|_| ()));
    note(BucketMode::from_value(7).map(|_| ()));
    let r = c.alloc_notif_rings(1, 0, 0).unwrap();
    c.iqueue_init(r, 128).unwrap();
    note(c.iqueue_try_get(r).map(|_| ()));
    let l = c.link_open("gbe0", 0).unwrap();
    note(
        c.link_open("gbe0", mpipe_emu::link::flags::EXCL_DATA)
            .map(|_| ()),
    );
    note(c.link_set_attr(&l, mpipe_emu::link::attr::MAC, 0));
    let mut rules = Rules::new();
    note(rules.set_tailroom(1));
    note(rules.begin(0, 3, None));
    rules.begin(0, 1, None).unwrap();
    while rules.add_vlan(1).is_ok() {}
    note(rules.add_vlan(1));
    let mut bad = Rules::new();
    bad.begin(0, 1, None).unwrap();
    bad.list_mut()[29] = 1;
    note(c.commit_rules(&bad));
    let mut want: Vec<Error> = Error::ALL
        .iter()
        .copied()
        .filter(|&e| e != Error::Timeout)
        .collect();
    want.sort_by_key(|e| e.code());
    seen.sort_by_key(|e| e.code());
    seen.dedup();
    assert_eq!(seen, want);
}
