//! Arbitrary text as a scenario file: `Scenario::from_toml`, then
//! `validate()`. Nothing may panic. A scenario that parses also writes
//! itself back (`to_toml`, which must not panic), and what it writes must
//! read back to the same TOML and the same verdict of `validate()`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rusty_sim::scenario::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = Scenario::from_toml(text) else {
        return;
    };
    let valid = scenario.validate().is_ok();
    if valid {
        let _ = scenario.link_count();
        let _ = scenario.server.tcp_config();
    }
    let written = scenario.to_toml();
    let back = Scenario::from_toml(&written)
        .unwrap_or_else(|e| panic!("to_toml's output does not read back: {e}\n{written}"));
    assert_eq!(back.to_toml(), written, "to_toml is not stable");
    assert_eq!(
        back.validate().is_ok(),
        valid,
        "validate() changed its mind"
    );
});
