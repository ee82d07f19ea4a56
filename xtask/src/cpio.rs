//! A writer for the `newc` cpio format, the one the kernel unpacks as an
//! initramfs (`Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! Each entry is a 110-byte ASCII header (magic `070701` and thirteen
//! 8-digit hex fields), the NUL-terminated name padded to a multiple of 4,
//! then the data padded to a multiple of 4. The archive ends with an entry
//! named `TRAILER!!!`. Owners are root and times are zero, so the same
//! inputs give the same bytes.

use std::io::Write;

use anyhow::{ensure, Context, Result};

/// File type bits of `mode` (as in `st_mode`).
pub const S_IFDIR: u32 = 0o040_000;
/// Regular file.
pub const S_IFREG: u32 = 0o100_000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120_000;
/// Character device.
pub const S_IFCHR: u32 = 0o020_000;

const MAGIC: &[u8; 6] = b"070701";
const TRAILER: &str = "TRAILER!!!";
const HEADER_LEN: usize = 110;

/// The per-entry header fields that vary.
#[derive(Clone, Copy)]
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    /// Device number for device nodes.
    rdev: (u32, u32),
}

/// Streams newc entries into `out`.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    written: usize,
}

impl<W: Write> CpioWriter<W> {
    /// Start an archive.
    pub fn new(out: W) -> Self {
        Self { out, next_ino: 1, written: 0 }
    }

    /// Add a directory (`path` without a leading `/`).
    pub fn directory(&mut self, path: &str, perm: u32) -> Result<()> {
        self.entry(path, S_IFDIR | (perm & 0o7777), 2, &[])
    }

    /// Add a regular file.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.entry(path, S_IFREG | (perm & 0o7777), 1, data)
    }

    /// Add a symbolic link to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.entry(path, S_IFLNK | 0o777, 1, target.as_bytes())
    }

    /// Add a character device node `major:minor`.
    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.check_name(path)?;
        let ino = self.take_ino();
        let header = Header { ino, mode: S_IFCHR | (perm & 0o7777), nlink: 1, rdev: (major, minor) };
        self.raw_entry(path, header, &[]).with_context(|| format!("cannot add {path} to the cpio archive"))
    }

    /// Write the trailer and return the underlying writer.
    pub fn finish(mut self) -> Result<W> {
        let header = Header { ino: 0, mode: 0, nlink: 0, rdev: (0, 0) };
        self.raw_entry(TRAILER, header, &[])?;
        Ok(self.out)
    }

    fn check_name(&self, path: &str) -> Result<()> {
        ensure!(!path.is_empty() && !path.starts_with('/') && path != TRAILER, "bad cpio entry name {path:?}");
        Ok(())
    }

    fn take_ino(&mut self) -> u32 {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, data: &[u8]) -> Result<()> {
        self.check_name(path)?;
        let ino = self.take_ino();
        let header = Header { ino, mode, nlink, rdev: (0, 0) };
        self.raw_entry(path, header, data).with_context(|| format!("cannot add {path} to the cpio archive"))
    }

    fn raw_entry(&mut self, name: &str, header: Header, data: &[u8]) -> Result<()> {
        let size = u32::try_from(data.len()).context("file too large for cpio newc")?;
        let namesize = u32::try_from(name.len() + 1).context("name too long for cpio newc")?;
        let Header { ino, mode, nlink, rdev: (rdev_major, rdev_minor) } = header;
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
        // rdevmajor, rdevminor, namesize, check
        let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev_major, rdev_minor, namesize, 0];
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        for field in fields {
            header.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.put(&header)?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).context("cpio write failed")?;
        self.written += bytes.len();
        Ok(())
    }

    fn pad(&mut self) -> Result<()> {
        let padding = (4 - self.written % 4) % 4;
        self.put(&[0; 3][..padding])
    }
}

/// Reading archives back, for tests.
#[cfg(test)]
pub mod read {
    use anyhow::{bail, ensure, Context, Result};

    /// One decoded entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        /// Name as stored.
        pub name: String,
        /// `st_mode`.
        pub mode: u32,
        /// Link count.
        pub nlink: u32,
        /// Device number (`rdevmajor`, `rdevminor`).
        pub rdev: (u32, u32),
        /// Data (file contents or link target).
        pub data: Vec<u8>,
    }

    fn field(header: &[u8], index: usize) -> Result<u32> {
        let start = 6 + index * 8;
        let text = std::str::from_utf8(&header[start..start + 8]).context("non-ASCII field")?;
        u32::from_str_radix(text, 16).with_context(|| format!("bad hex field {text:?}"))
    }

    fn align(n: usize) -> usize {
        (n + 3) & !3
    }

    /// Decode every entry up to (not including) the trailer.
    pub fn entries(archive: &[u8]) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut pos = 0;
        loop {
            ensure!(pos % 4 == 0, "entry at unaligned offset {pos}");
            let Some(header) = archive.get(pos..pos + 110) else {
                bail!("truncated header at {pos}");
            };
            ensure!(&header[..6] == b"070701", "bad magic at {pos}");
            let mode = field(header, 1)?;
            let nlink = field(header, 4)?;
            let size = field(header, 6)? as usize;
            let rdev = (field(header, 9)?, field(header, 10)?);
            let namesize = field(header, 11)? as usize;
            let name_start = pos + 110;
            let name_bytes = archive.get(name_start..name_start + namesize).context("truncated name")?;
            ensure!(name_bytes.last() == Some(&0), "name not NUL-terminated");
            let name = String::from_utf8(name_bytes[..namesize - 1].to_vec())?;
            let data_start = align(name_start + namesize);
            let data = archive.get(data_start..data_start + size).context("truncated data")?.to_vec();
            pos = align(data_start + size);
            if name == "TRAILER!!!" {
                ensure!(pos == archive.len(), "bytes after the trailer");
                return Ok(entries);
            }
            entries.push(Entry { name, mode, nlink, rdev, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{read::entries, *};

    fn sample() -> Result<Vec<u8>> {
        let mut cpio = CpioWriter::new(Vec::new());
        cpio.directory("bin", 0o755)?;
        cpio.file("bin/busybox", 0o755, b"\x7fELF...")?;
        cpio.symlink("bin/sh", "busybox")?;
        cpio.file("init", 0o755, b"#!/bin/sh\necho hi\n")?;
        cpio.file("empty", 0o644, b"")?;
        cpio.char_device("console", 0o600, 5, 1)?;
        cpio.finish()
    }

    #[test]
    fn entries_read_back_identical() -> Result<()> {
        let archive = sample()?;
        assert_eq!(archive.len() % 4, 0);
        let entries = entries(&archive)?;
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bin", "bin/busybox", "bin/sh", "init", "empty", "console"]);
        assert_eq!(entries[0].mode, S_IFDIR | 0o755);
        assert_eq!(entries[0].nlink, 2);
        assert_eq!(entries[1].data, b"\x7fELF...");
        assert_eq!(entries[2].mode, S_IFLNK | 0o777);
        assert_eq!(entries[2].data, b"busybox");
        assert_eq!(entries[3].data, b"#!/bin/sh\necho hi\n");
        assert!(entries[4].data.is_empty());
        assert_eq!(entries[5].mode, S_IFCHR | 0o600);
        assert_eq!(entries[5].rdev, (5, 1));
        Ok(())
    }

    #[test]
    fn header_layout_matches_newc() -> Result<()> {
        let archive = sample()?;
        // First entry: "bin" (namesize 4), header 110 + 4 = 114, padded to 116.
        assert_eq!(&archive[..6], b"070701");
        assert_eq!(&archive[6..14], b"00000001"); // ino
        assert_eq!(&archive[14..22], b"000041ed"); // mode 040755
        assert_eq!(&archive[94..102], b"00000004"); // namesize
        assert_eq!(&archive[110..114], b"bin\0");
        assert_eq!(&archive[116..122], b"070701");
        Ok(())
    }

    #[test]
    fn absolute_and_empty_names_are_refused() {
        let mut cpio = CpioWriter::new(Vec::new());
        assert!(cpio.file("/init", 0o755, b"").is_err());
        assert!(cpio.file("", 0o755, b"").is_err());
        assert!(cpio.file("TRAILER!!!", 0o644, b"").is_err());
    }

    /// Cross-check with GNU cpio when it is installed (`cargo xtask setup`
    /// installs it).
    #[test]
    fn gnu_cpio_lists_the_same_entries() -> Result<()> {
        use std::process::{Command, Stdio};
        if crate::exec::find_in_path("cpio").is_none() {
            eprintln!("cpio not installed; cross-check skipped");
            return Ok(());
        }
        let archive = sample()?;
        let mut child =
            Command::new("cpio").args(["-t", "--quiet"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        child.stdin.take().context("no stdin")?.write_all(&archive)?;
        let out = child.wait_with_output()?;
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout)?;
        let names: Vec<_> = listing.lines().collect();
        assert_eq!(names, ["bin", "bin/busybox", "bin/sh", "init", "empty", "console"]);
        Ok(())
    }
}
