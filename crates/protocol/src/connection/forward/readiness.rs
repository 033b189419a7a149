//! Level-triggered epoll over raw descriptors: the SUB sockets' `ZMQ_FD`s, the XPUB's and the
//! forwarder's wake-up pipe. One `epoll_wait` costs the same with 10 or 10,000 sockets
//! registered, where `zmq_poll` would look at every socket on each call.

use std::io;
use std::os::fd::RawFd;

/// An epoll instance; closed when dropped.
pub struct Readiness {
    epoll: RawFd,
    events: Vec<libc::epoll_event>,
}

impl Readiness {
    /// A new epoll instance reporting at most `batch` ready descriptors per wait.
    pub fn new(batch: usize) -> io::Result<Readiness> {
        // SAFETY: plain system call; the result is checked.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Readiness { epoll, events: vec![libc::epoll_event { events: 0, u64: 0 }; batch.max(1)] })
    }

    /// Watches `fd` for input, reporting it as `key`.
    pub fn add(&self, fd: RawFd, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: key };
        // SAFETY: `event` lives for the call; the result is checked.
        if unsafe { libc::epoll_ctl(self.epoll, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (before its socket is closed).
    pub fn remove(&self, fd: RawFd) {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `add`; a descriptor that was not registered only makes it fail.
        unsafe { libc::epoll_ctl(self.epoll, libc::EPOLL_CTL_DEL, fd, &mut event) };
    }

    /// Waits at most `timeout_ms` (0: not at all) and calls `ready` with the key of each ready
    /// descriptor.
    pub fn wait(&mut self, timeout_ms: i32, mut ready: impl FnMut(u64)) {
        let capacity = i32::try_from(self.events.len()).unwrap_or(i32::MAX);
        // SAFETY: the buffer holds `capacity` events; the kernel writes at most that many.
        let n = unsafe { libc::epoll_wait(self.epoll, self.events.as_mut_ptr(), capacity, timeout_ms) };
        // n < 0: EINTR, or nothing we could act on; the caller's loop comes back.
        for event in &self.events[..usize::try_from(n).unwrap_or(0)] {
            ready(event.u64);
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.epoll) };
    }
}
