//! The system calls of the TAP driver: opening `/dev/net/tun` as a TAP
//! device, non-blocking reads and writes of whole frames, and waiting for
//! the descriptor. The only `unsafe` code of the TAP backend lives here.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Longest interface name with its terminating NUL.
const IFNAMSIZ: usize = libc::IFNAMSIZ;

/// A zeroed `struct ifreq` (libc's layout) naming interface `name`, which
/// the caller checked fits with its NUL.
fn ifreq(name: &[u8]) -> libc::ifreq {
    // SAFETY: `ifreq` is plain old data (a name array and a union of
    // integers, addresses and a pointer); all zeros is a valid value.
    let mut req: libc::ifreq = unsafe { core::mem::zeroed() };
    for (slot, &b) in req.ifr_name.iter_mut().zip(name) {
        *slot = b as libc::c_char;
    }
    req
}

/// An open TAP device: the file descriptor of `/dev/net/tun` attached to
/// one interface, non-blocking.
#[derive(Debug)]
pub struct TapFd {
    file: File,
    name: String,
}

impl TapFd {
    /// Attaches to (or creates) the TAP interface `name`, without the
    /// packet-information header, non-blocking. Needs `CAP_NET_ADMIN` (or
    /// a persistent device owned by the caller).
    pub fn open(name: &str) -> io::Result<TapFd> {
        let bytes = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
        let bytes = bytes.as_bytes_with_nul();
        if bytes.len() > IFNAMSIZ || bytes.len() < 2 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "interface name must have 1 to 15 bytes",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        let mut req = ifreq(bytes);
        req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: the descriptor is open; `req` is a live `ifreq` (libc's
        // layout, the kernel's) that the kernel reads and updates in place.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        set_nonblocking(&file)?;
        let len = req
            .ifr_name
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(IFNAMSIZ);
        let name = req.ifr_name[..len]
            .iter()
            .map(|&c| c as u8 as char)
            .collect();
        Ok(TapFd { file, name })
    }

    /// The interface's name, as the kernel knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the interface's transmit queue length (`txqueuelen`): for a TAP
    /// device, how many frames the kernel queues for us to read before it
    /// drops. Needs `CAP_NET_ADMIN`. Returns the length now in force.
    pub fn set_queue_len(&self, len: u32) -> io::Result<u32> {
        let socket = Socket::datagram()?;
        let mut req = ifreq(self.name.as_bytes());
        // `ifr_qlen` is the union's int (`ifru_ivalue` in <linux/if.h>),
        // which libc names `ifru_ifindex`.
        req.ifr_ifru.ifru_ifindex = libc::c_int::try_from(len).unwrap_or(libc::c_int::MAX);
        // SAFETY: the socket is open; `req` is a live `ifreq` naming the
        // device (NUL-terminated: `open` checked it fits with its NUL).
        let rc = unsafe { libc::ioctl(socket.0, libc::SIOCSIFTXQLEN, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above; the kernel writes the length into the union.
        let rc = unsafe { libc::ioctl(socket.0, libc::SIOCGIFTXQLEN, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel wrote the union's int; every bit pattern is a
        // valid `c_int`.
        let qlen = unsafe { req.ifr_ifru.ifru_ifindex };
        Ok(u32::try_from(qlen).unwrap_or(0))
    }

    /// Reads one frame into `buf`. `Ok(None)` when none is waiting.
    pub fn read_frame(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: `buf` is a valid writable region of `buf.len()` bytes for
        // the duration of the call; the descriptor is open.
        let n = unsafe {
            libc::read(
                self.file.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
            )
        };
        would_block_or(n)
    }

    /// Writes one frame gathered from `parts`. `Ok(false)` when the device
    /// queue is full (the frame is not sent).
    pub fn write_frame(&self, parts: &[&[u8]]) -> io::Result<bool> {
        const MAX_PARTS: usize = 16;
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_PARTS];
        let count = parts.len().min(MAX_PARTS);
        for (slot, part) in iov.iter_mut().zip(parts) {
            slot.iov_base = part.as_ptr() as *mut libc::c_void;
            slot.iov_len = part.len();
        }
        if parts.len() > MAX_PARTS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame in more than 16 buffers",
            ));
        }
        // SAFETY: `iov[..count]` describes `count` live, readable slices
        // borrowed for the duration of the call (writev only reads them);
        // the descriptor is open.
        let n = unsafe { libc::writev(self.file.as_raw_fd(), iov.as_ptr(), count as libc::c_int) };
        Ok(would_block_or(n)?.is_some())
    }

    /// Waits until a frame can be read or `timeout` passes (`None`: no
    /// limit). Returns whether the device is readable.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut fds = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.map_or(-1, |t| {
            libc::c_int::try_from(t.as_millis().max(u128::from(!t.is_zero())))
                .unwrap_or(libc::c_int::MAX)
        });
        // SAFETY: `fds` is one valid `pollfd` living for the call.
        let rc = unsafe { libc::poll(&mut fds, 1, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(err)
            };
        }
        Ok(rc > 0 && fds.revents & libc::POLLIN != 0)
    }
}

/// Sets `O_NONBLOCK` on a file.
fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on an open descriptor with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `Ok(Some(n))` for a transfer of `n` bytes, `Ok(None)` for `EAGAIN`.
fn would_block_or(n: isize) -> io::Result<Option<usize>> {
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let err = io::Error::last_os_error();
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
        _ => Err(err),
    }
}

impl AsRawFd for TapFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

/// A datagram socket for interface requests, closed on drop.
struct Socket(libc::c_int);

impl Socket {
    fn datagram() -> io::Result<Socket> {
        // SAFETY: plain system call with constant arguments; the result is
        // checked and owned by the returned value.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket(fd))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: `self.0` is a descriptor this value owns, closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}
