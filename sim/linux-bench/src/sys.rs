//! The few system calls std does not offer: `SO_REUSEPORT` listening
//! sockets, `accept4` with flags, and epoll. Every unsafe block of the
//! crate is here; each wraps one call and hands back owned, safe types.

use std::io;
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Turns a `-1` return into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Sets an integer socket option.
fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `fd` is an open socket for the duration of the call; the
    // option value points to a live `c_int` whose size is passed along.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    check(ret).map(drop)
}

/// A non-blocking TCP listening socket on `addr` with `SO_REUSEADDR`,
/// `SO_REUSEPORT` (so that each worker can bind its own socket to the same
/// port and the kernel spreads connections over them by flow hash) and
/// `TCP_NODELAY` (inherited by accepted sockets).
pub fn reuseport_listener(addr: SocketAddrV4, backlog: i32) -> io::Result<TcpListener> {
    // SAFETY: plain system call with constant arguments; the result is
    // checked before use.
    let raw = check(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `raw` is a socket just created by this thread and owned by
    // nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    set_int_option(&fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid `sockaddr_in` that outlives the call, and
    // its exact size is passed.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    // SAFETY: `fd` is an open, bound socket.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(TcpListener::from(fd))
}

/// Accepts one connection as a non-blocking socket (one system call);
/// `WouldBlock` when none is pending.
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<TcpStream> {
    // SAFETY: the listener is open for the call; null address pointers
    // are allowed by accept4(2) when the peer address is not wanted.
    let raw = check(unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: `raw` is a socket just returned by accept4, owned by nothing
    // else.
    Ok(TcpStream::from(unsafe { OwnedFd::from_raw_fd(raw) }))
}

/// One epoll event: the interest bits that fired and the token registered
/// with the descriptor.
pub type Event = libc::epoll_event;

/// An empty event, to size event buffers.
pub const NO_EVENT: Event = libc::epoll_event { events: 0, u64: 0 };

/// Readable (`EPOLLIN`).
pub const READABLE: u32 = libc::EPOLLIN as u32;
/// Writable (`EPOLLOUT`).
pub const WRITABLE: u32 = libc::EPOLLOUT as u32;
/// The peer shut its side down (`EPOLLRDHUP`).
pub const READ_HANGUP: u32 = libc::EPOLLRDHUP as u32;
/// Edge-triggered (`EPOLLET`).
pub const EDGE: u32 = libc::EPOLLET as u32;

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call; the result is checked before use.
        let raw = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `raw` was just created by this thread and is owned by
        // nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Epoll { fd })
    }

    /// Registers `fd` for `events`, reported with `token`. The kernel
    /// forgets it when the descriptor is closed.
    pub fn add(&self, fd: &impl AsRawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: both descriptors are open for the call and `event` is a
        // valid epoll_event that outlives it.
        check(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        })
        .map(drop)
    }

    /// Waits up to `timeout_ms` for events; fills the front of `events`
    /// and returns how many. An interrupted wait returns 0.
    pub fn wait(&self, events: &mut [Event], timeout_ms: i32) -> io::Result<usize> {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: the kernel writes at most `max` events into `events`,
        // which is a valid, exclusively borrowed buffer of that many.
        let ret =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        match check(ret) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}
