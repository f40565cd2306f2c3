#!/usr/bin/env bash
# Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/ from
# the fixtures: the captures fixtures/pcap/*.pcap (with their sidecar TOML)
# and the scenarios fixtures/scenarios/*.toml.
#
#   fuzz/seeds.sh [FIXTURES_DIR [CORPUS_DIR]]
#
# (defaults: the repository's fixtures/ and fuzz/corpus/).
#
# * wire_parsers: single frames from the captures;
# * stack_frames: for each TCP flow to the stack, the flow's frames from the
#   peer as records (rusty_fuzz::records): the time gap before each frame,
#   then the frame; and the same of the other frames to it (ARP, ICMP,
#   IPv6 chatter), and an ICMP echo request built here; captures of another stack (curl-linux) are readdressed
#   to the fuzz target's stack (record flags: readdress, fix checksums);
# * pcap_replay: the first frames of each capture, as a pcap;
# * scenario_toml: the scenario files.
#
# tcp_segments and cursor_chain take structured input (the arbitrary
# crate); their seeds are the checked-in files of fuzz/seeds/ only.
# The captures are not in git (the root .gitignore ignores *.pcap): where
# they are missing, only the scenarios are written. Deterministic: the same
# fixtures give the same files (named by their SHA-1, as libFuzzer does).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../fixtures}
corpus=${2:-$here/corpus}
python3 - "$fixtures" "$corpus" <<'PY'
import glob, hashlib, os, struct, sys

fixtures, out = sys.argv[1], sys.argv[2]

# The fuzz targets' stack (stack_frames): curl-rusty's settings.
STACK_MAC = bytes([0x02, 0x00, 0x00, 0x77, 0x00, 0x02])
STACK_START_NS = 8533
FIX, READDRESS, STEP = 0x01, 0x02, 0x80
PER_FLOW_FRAMES = 48      # frames of one flow in a stack_frames seed
PCAP_FRAMES = 64          # frames of a capture in a pcap_replay seed
WIRE_FRAMES = 32          # frames of a capture for wire_parsers

def write(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    with open(path, "wb") as f:
        f.write(data)

def read_pcap(path):
    """(header bytes, endianness, [(sec, frac, frame)]) of a pcap file."""
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        frames.append((sec, frac, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return data[:24], e, nano, frames

def sidecar_mac(path):
    """The `mac` of a capture's sidecar TOML, as bytes (None if absent)."""
    try:
        for line in open(path):
            if line.startswith("mac"):
                text = line.split("=", 1)[1].strip().strip('"')
                return bytes(int(x, 16) for x in text.split(":"))
    except OSError:
        pass
    return None

def push_advance(buf, ns):
    us = ns // 1000
    while us > 0:
        unit, per = (1, 1000) if us >= 65536 else (0, 1)
        n = min(us // per, 65535)
        buf += bytes([STEP | unit]) + struct.pack(">H", n)
        us -= n * per

def tcp_flow(frame):
    """(peer ip, peer port) of an IPv4/TCP frame to the stack, else None."""
    if len(frame) < 14 + 20 + 20 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0f) * 4
    return frame[26:30], frame[14 + ihl:14 + ihl + 2]

for pcap in sorted(glob.glob(os.path.join(fixtures, "pcap", "*.pcap"))):
    header, e, nano, frames = read_pcap(pcap)
    mac = sidecar_mac(pcap[:-len(".pcap")] + ".toml") or STACK_MAC
    ns = lambda sec, frac: sec * 1_000_000_000 + (frac if nano else frac * 1000)

    # pcap_replay: the capture's first frames.
    small = bytearray(header)
    for sec, frac, frame in frames[:PCAP_FRAMES]:
        small += struct.pack(e + "IIII", sec, frac, len(frame), len(frame)) + frame
    write("pcap_replay", bytes(small))

    # wire_parsers: single frames, each distinct one once.
    for _, _, frame in frames[:WIRE_FRAMES]:
        write("wire_parsers", frame)

    # stack_frames: each flow's frames from its peer, with their gaps.
    flags = 0 if mac == STACK_MAC else READDRESS | FIX
    flows = {}
    for sec, frac, frame in frames:
        if frame[6:12] == mac or (frame[0:6] != mac and frame[0] & 1 == 0):
            continue  # sent by the stack, or not for it
        # TCP by flow; the rest (ARP, ICMP, IPv6 chatter) as one more "flow".
        key = tcp_flow(frame) or "other"
        flows.setdefault(key, []).append((ns(sec, frac), frame))
    for flow in flows.values():
        seed = bytearray()
        last = STACK_START_NS if mac == STACK_MAC else flow[0][0]
        for at, frame in flow[:PER_FLOW_FRAMES]:
            push_advance(seed, max(0, at - last))
            last = max(last, at)
            seed += bytes([flags]) + struct.pack(">H", len(frame)) + frame
        write("stack_frames", bytes(seed))

# stack_frames without captures: an ICMP echo request to the stack (its
# checksums left to the target: record flag FIX), then a second after 1 s.
ping = (STACK_MAC + bytes([0x02, 0xee, 0, 0, 0, 1]) + b"\x08\x00"
        + bytes([0x45, 0, 0, 28 + 8, 0, 1, 0x40, 0, 64, 1, 0, 0,
                 10, 77, 0, 1, 10, 77, 0, 2])
        + bytes([8, 0, 0, 0, 0x12, 0x34, 0, 1]) + b"rustyping")
ping = ping[:16] + bytes([0, 20 + 8 + 9]) + ping[18:]
seed = bytearray([FIX]) + struct.pack(">H", len(ping)) + ping
seed += bytes([STEP | 2]) + struct.pack(">H", 1)
seed += bytes([FIX]) + struct.pack(">H", len(ping)) + ping
write("stack_frames", bytes(seed))

for toml in sorted(glob.glob(os.path.join(fixtures, "scenarios", "*.toml"))):
    write("scenario_toml", open(toml, "rb").read())
PY
shopt -s nullglob
for target in "$corpus"/*/; do
  echo "$(basename "$target"): $(ls "$target" | wc -l) files in $target"
done
