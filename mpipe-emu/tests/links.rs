//! Links: names and channels, open flags and exclusivity, attributes
//! (MAC, RECEIVE_JUMBO, states), up/down.

use mpipe_emu::link::{attr, flags, state};
use mpipe_emu::{Config, Context, Error};

#[test]
fn open_by_name_channels_and_macs() {
    let mut ctx = Context::new(Config {
        mac_base: [0x02, 0xAA, 0, 0, 0, 0x10],
        ..Config::default()
    })
    .unwrap();
    for (name, ch) in [
        ("gbe0", 0),
        ("gbe15", 15),
        ("xgbe0", 16),
        ("xgbe3", 19),
        ("loop2", 22),
    ] {
        let l = ctx.link_open(name, 0).unwrap();
        assert_eq!(l.channel, ch, "{name}");
        let mac = ctx.link_get_attr(&l, attr::MAC).unwrap();
        assert_eq!(
            mac,
            0x02AA_0000_0010 + u64::from(ch),
            "first octet most significant"
        );
        assert_eq!(ctx.link_mac(ch).unwrap(), [0x02, 0xAA, 0, 0, 0, 0x10 + ch]);
    }
    for bad in ["eth0", "gbe16", "xgbe4", "loop4", "", "gbe"] {
        assert_eq!(ctx.link_open(bad, 0), Err(Error::NoDevice), "{bad:?}");
    }
    assert_eq!(
        ctx.open_channels(),
        (1 << 0) | (1 << 15) | (1 << 16) | (1 << 19) | (1 << 22)
    );
}

#[test]
fn flags_exclusivity_and_close() {
    let mut ctx = Context::init(0).unwrap();
    assert_eq!(
        ctx.link_open("gbe1", flags::DATA | flags::NO_DATA),
        Err(Error::BadConfig)
    );
    assert_eq!(
        ctx.link_open("gbe1", flags::AUTO_UP | flags::AUTO_NONE),
        Err(Error::BadConfig)
    );
    let a = ctx.link_open("gbe1", 0).unwrap();
    assert_eq!(
        a.flags,
        flags::DATA | flags::STATS | flags::CTL | flags::AUTO_UPDOWN
    );
    let b = ctx.link_open("gbe1", 0).unwrap(); // shared opens are fine
    assert_eq!(ctx.link_open("gbe1", flags::EXCL_DATA), Err(Error::Busy));
    let x = ctx.link_open("gbe2", flags::EXCL_DATA).unwrap();
    assert_eq!(ctx.link_open("gbe2", 0), Err(Error::Busy));
    // A stats-only open does not touch the exclusive data path.
    let st = ctx.link_open("gbe2", flags::NO_DATA).unwrap();
    ctx.link_close(x).unwrap();
    ctx.link_open("gbe2", 0).unwrap();
    ctx.link_close(st).unwrap();
    ctx.link_close(a).unwrap();
    assert!(ctx.link_is_up(1).unwrap(), "one opener left");
    ctx.link_close(b).unwrap();
    assert!(
        !ctx.link_is_up(1).unwrap(),
        "AUTO_UPDOWN: down with the last close"
    );
    assert_eq!(ctx.link_close(b), Err(Error::BadConfig));
    // NO_DATA opens give no data path: no eDMA ring on that channel.
    let mut ctx = Context::init(0).unwrap();
    ctx.link_open("gbe4", flags::NO_DATA).unwrap();
    let e = ctx.alloc_edma_rings(1, 0, 0).unwrap();
    assert_eq!(ctx.equeue_init(e, 4, 512), Err(Error::BadChannel));
}

#[test]
fn attributes_and_states() {
    let mut ctx = Context::init(0).unwrap();
    let g = ctx.link_open("gbe0", 0).unwrap();
    let x = ctx.link_open("xgbe0", flags::AUTO_NONE).unwrap();
    assert_eq!(ctx.link_get_attr(&g, attr::RECEIVE_JUMBO), Ok(0));
    ctx.link_set_attr(&g, attr::RECEIVE_JUMBO, 5).unwrap();
    assert_eq!(ctx.link_get_attr(&g, attr::RECEIVE_JUMBO), Ok(1));
    assert_eq!(ctx.link_get_attr(&g, attr::DISCARD_IF_DOWN), Ok(1));
    ctx.link_set_attr(&g, attr::SEND_PAUSE, 3).unwrap();
    assert_eq!(ctx.link_get_attr(&g, attr::SEND_PAUSE), Ok(3));
    for ro in [attr::MAC, attr::POSSIBLE_STATE, attr::CURRENT_STATE] {
        assert_eq!(ctx.link_set_attr(&g, ro, 0), Err(Error::Perm));
    }
    assert_eq!(ctx.link_get_attr(&g, 0x090000), Err(Error::BadConfig));
    assert_eq!(ctx.link_set_attr(&g, 0x123, 0), Err(Error::BadConfig));
    let possible = ctx.link_get_attr(&g, attr::POSSIBLE_STATE).unwrap();
    assert_eq!(
        possible & state::SPEED_MASK,
        state::SPEED_10M | state::SPEED_100M | state::SPEED_1G | state::ANYSPEED
    );
    assert_eq!(
        ctx.link_get_attr(&g, attr::CURRENT_STATE),
        Ok(state::SPEED_1G)
    );
    // AUTO_NONE: down until a desired state is set.
    assert_eq!(ctx.link_get_attr(&x, attr::CURRENT_STATE), Ok(0));
    ctx.link_set_attr(&x, attr::DESIRED_STATE, state::ANYSPEED)
        .unwrap();
    assert_eq!(
        ctx.link_get_attr(&x, attr::CURRENT_STATE),
        Ok(state::SPEED_10G)
    );
    // Pulling the cable takes it down; plugging it back up.
    ctx.set_carrier(16, false).unwrap();
    assert_eq!(ctx.link_get_attr(&x, attr::CURRENT_STATE), Ok(0));
    ctx.set_carrier(16, true).unwrap();
    assert!(ctx.link_is_up(16).unwrap());
    ctx.link_set_attr(&x, attr::DESIRED_STATE, 0).unwrap();
    assert!(!ctx.link_is_up(16).unwrap());
    assert_eq!(ctx.set_carrier(30, true), Err(Error::BadChannel));
    let lp = ctx.link_open("loop0", 0).unwrap();
    assert_eq!(
        ctx.link_get_attr(&lp, attr::CURRENT_STATE),
        Ok(state::SPEED_10G | state::LOOP_MAC)
    );
}
