//! Builds `examples/c/hello_mpipe.c` with gcc against `include/gxio/mpipe.h`
//! and the crate's static library, runs it and checks its output. Without
//! gcc the test is skipped with a message, unless `CI=true`, where it fails.

use mpipe_emu::FlowHasher;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The static library cargo built for this test run: `libmpipe_emu.a` next
/// to the test binary's `deps/` folder, or the newest one inside it.
fn static_lib() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(deps)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libmpipe_emu-") && n.ends_with(".a"))
        })
        .collect();
    candidates.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    candidates
        .pop()
        .or_else(|| Some(deps.parent()?.join("libmpipe_emu.a")).filter(|p| p.exists()))
}

#[test]
fn c_program_opens_a_link_receives_and_sends() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if Command::new("gcc").arg("--version").output().is_err() {
        assert!(!ci, "gcc is required when CI=true");
        eprintln!("SKIP c_program_opens_a_link_receives_and_sends: gcc not found");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = static_lib()
        .expect("libmpipe_emu.a (crate-type staticlib) not found next to the test binary");
    let out = std::env::temp_dir().join(format!("hello_mpipe-{}", std::process::id()));
    let gcc = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("examples/c/hello_mpipe.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .output()
        .expect("run gcc");
    assert!(
        gcc.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    let run = Command::new(&out).output().expect("run hello_mpipe");
    let _ = std::fs::remove_file(&out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "hello_mpipe failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let hash = FlowHasher::default().ipv4_ports([10, 0, 0, 2], [10, 0, 0, 1], 12345, 7);
    let bucket = hash & 15;
    for want in [
        "link gbe0 channel=0 mac=02:00:5e:00:00:00 up=1".to_string(),
        format!("rx len=54 hash=0x{hash:08x} bucket={bucket} ts=2.250000000 stack_idx=0 size=4"),
        "tx 1 len=54 dst=02:11:22:33:44:55".to_string(),
        "tx 2 len=54 payload=second reply".to_string(),
        "stats rx=1 delivered=1 tx=2".to_string(),
        "OK".to_string(),
    ] {
        assert!(
            stdout.lines().any(|l| l == want),
            "missing line {want:?} in:\n{stdout}"
        );
    }
}
