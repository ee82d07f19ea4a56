//! The cgroup lookup the routing policy asks when a route matches cgroup
//! paths: the cgroup v2 path of a process, from `/proc/<tgid>/cgroup`.
//!
//! It runs in the scheduling loop, once per process (the router remembers
//! the answer), so it reads into fixed buffers: no allocation, three system
//! calls (open, read, close).

use policies::CgroupLookup;

/// Reads `/proc/<tgid>/cgroup`.
#[derive(Debug)]
pub struct ProcCgroup {
    file: Vec<u8>,
}

impl ProcCgroup {
    /// A lookup with its read buffer (allocated here, once).
    pub fn new() -> Self {
        Self { file: vec![0; 8192] }
    }
}

/// `/proc/<tgid>/cgroup` as a NUL-terminated path in `buf`.
fn proc_path(tgid: i32, buf: &mut [u8; 32]) -> &[u8] {
    let mut digits = [0u8; 10];
    let mut n = tgid.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut at = 0;
    for &b in b"/proc/".iter().chain(digits[..len].iter().rev()).chain(b"/cgroup\0") {
        buf[at] = b;
        at += 1;
    }
    &buf[..at]
}

/// The cgroup v2 path in the text of a `/proc/<pid>/cgroup` file: the line
/// `0::<path>`.
pub fn v2_path(text: &[u8]) -> Option<&[u8]> {
    text.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(b"0::"))
}

impl CgroupLookup for ProcCgroup {
    fn cgroup_of(&mut self, tgid: i32, buf: &mut [u8]) -> Option<usize> {
        let mut path = [0u8; 32];
        let path = proc_path(tgid, &mut path);
        // SAFETY: `path` is NUL-terminated; the descriptor is closed below.
        let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `self.file` is a writable buffer of the length given.
        let read = unsafe { libc::read(fd, self.file.as_mut_ptr().cast(), self.file.len()) };
        // SAFETY: `fd` is ours and open.
        unsafe { libc::close(fd) };
        let text = &self.file[..usize::try_from(read).ok()?];
        let cgroup = v2_path(text)?;
        let n = cgroup.len().min(buf.len());
        buf[..n].copy_from_slice(&cgroup[..n]);
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path is built without allocating, for any pid.
    #[test]
    fn paths() {
        let mut b = [0u8; 32];
        assert_eq!(proc_path(1, &mut b), b"/proc/1/cgroup\0");
        assert_eq!(proc_path(4_194_304, &mut b), b"/proc/4194304/cgroup\0");
    }

    /// The v2 line is found among v1 lines.
    #[test]
    fn v2_line() {
        let text = b"12:cpu,cpuacct:/x\n0::/user.slice/user-1000.slice/session-2.scope\n";
        assert_eq!(v2_path(text), Some(&b"/user.slice/user-1000.slice/session-2.scope"[..]));
        assert_eq!(v2_path(b"1:name=systemd:/\n"), None);
    }

    /// This process has a cgroup v2 path (on a cgroup v2 host), or at least
    /// the lookup answers without failing.
    #[test]
    fn own_process() {
        let mut buf = [0u8; 256];
        let got = ProcCgroup::new().cgroup_of(std::process::id() as i32, &mut buf);
        if let Some(n) = got {
            assert!(buf[..n].starts_with(b"/"), "{:?}", String::from_utf8_lossy(&buf[..n]));
        }
        assert_eq!(ProcCgroup::new().cgroup_of(i32::MAX, &mut buf), None, "no such process");
    }
}
