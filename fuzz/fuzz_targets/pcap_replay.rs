//! Arbitrary bytes as a pcap capture: parsed by `Capture::parse` and, when
//! they parse, replayed in both modes (`exact::replay` and
//! `adaptive::replay`) into the stack the `curl-rusty` capture's sidecar
//! describes. Nothing may panic; reports and errors are both fine.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rusty_sim::run::replay::settings::{AppKind, Settings, SidecarFile};
use rusty_sim::run::replay::{adaptive, exact, Capture};

/// Frames beyond which a capture is cut, so one input stays fast.
const MAX_FRAMES: usize = 256;

/// The settings of `fixtures/pcap/curl-rusty.toml`, fixed.
fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        SidecarFile {
            app: Some(AppKind::Httpd),
            mac: Some("02:00:00:77:00:02".into()),
            ip: Some("10.77.0.2/24".into()),
            mtu: Some(1500),
            seed: Some(7),
            start_ns: Some(8533),
            port: Some(80),
            ..SidecarFile::default()
        }
        .settings()
        .expect("the curl-rusty sidecar is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut capture) = Capture::parse(Path::new("fuzz.pcap"), data) else {
        return;
    };
    capture.frames.truncate(MAX_FRAMES);
    let settings = settings();
    let _ = exact::replay(&capture, settings);
    let _ = adaptive::replay(&capture, settings);
});
