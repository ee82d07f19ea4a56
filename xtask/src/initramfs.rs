//! Packing the guest's initramfs: busybox and its applets, `/init`, the
//! guest scripts of `tests/vm/` under `/relay/`, the host binaries of
//! [`guest_binaries::GUEST_BINARIES`] with their shared libraries, and a
//! minimal systemd with scx_relay's service installed ([`add_systemd`]), as
//! a gzip-compressed newc cpio.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{ensure, Context, Result};
use flate2::{write::GzEncoder, Compression};

use crate::{
    cpio::CpioWriter,
    exec,
    guest_binaries::{self, GuestBinary, BUSYBOX, GUEST_BINARIES},
    install,
    workspace::Workspace,
};

/// The guest's init script, relative to `tests/vm/`.
const INIT_SCRIPT: &str = "lib/init.sh";
/// Where `tests/vm/` appears in the guest.
pub const GUEST_SCRIPT_ROOT: &str = "relay";
/// Empty directories the guest needs (mount points and scratch space).
const DIRECTORIES: &[&str] = &["bin", "dev", "etc", "proc", "root", "run", "sys", "tmp", "var"];

/// A built image.
#[derive(Debug)]
pub struct Initramfs {
    /// The `.cpio.gz` file.
    pub path: PathBuf,
    /// Names of the optional binaries that were present and included.
    pub optional_included: Vec<&'static str>,
    /// Names of the optional binaries that were absent.
    pub optional_missing: Vec<&'static str>,
}

/// One node of the image.
enum Node {
    Directory,
    File { perm: u32, data: Vec<u8> },
    Symlink(String),
    CharDevice { major: u32, minor: u32 },
}

/// The image's tree, keyed by path without a leading `/`; a sorted map,
/// so parents are written before their children.
#[derive(Default)]
struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    /// Insert `node` at `path`, creating parent directories.
    fn insert(&mut self, path: &str, node: Node) {
        let path = path.trim_start_matches('/');
        let mut parent = String::new();
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        if let Some((_, parents)) = components.split_last() {
            for component in parents {
                if !parent.is_empty() {
                    parent.push('/');
                }
                parent.push_str(component);
                self.nodes.entry(parent.clone()).or_insert(Node::Directory);
            }
        }
        self.nodes.insert(components.join("/"), node);
    }

    /// Copy a host file (following symlinks) to `guest_path`.
    fn copy_file(&mut self, host: &Path, guest_path: &str, perm: u32) -> Result<()> {
        let data = fs::read(host).with_context(|| format!("cannot read {}", host.display()))?;
        self.insert(guest_path, Node::File { perm, data });
        Ok(())
    }

    /// Copy a host binary to `/bin/<name>` with the libraries it loads.
    fn add_binary(&mut self, host: &Path, name: &str) -> Result<()> {
        self.add_program(host, &format!("bin/{name}"))
    }

    /// Copy a host program to `guest_path` with the libraries it loads.
    fn add_program(&mut self, host: &Path, guest_path: &str) -> Result<()> {
        self.copy_file(host, guest_path, 0o755)?;
        for library in guest_binaries::shared_libraries(host)? {
            self.copy_file(&library, &library.to_string_lossy(), 0o755)?;
        }
        Ok(())
    }

    /// Write the tree as a newc archive.
    fn write<W: Write>(&self, cpio: &mut CpioWriter<W>) -> Result<()> {
        for (path, node) in &self.nodes {
            match node {
                Node::Directory => cpio.directory(path, 0o755)?,
                Node::File { perm, data } => cpio.file(path, *perm, data)?,
                Node::Symlink(target) => cpio.symlink(path, target)?,
                Node::CharDevice { major, minor } => cpio.char_device(path, 0o600, *major, *minor)?,
            }
        }
        Ok(())
    }
}

/// Build `target/vm/<label>.cpio.gz` (without the bench-only binaries).
pub fn build(ws: &Workspace, label: &str) -> Result<Initramfs> {
    build_with(ws, label, false, &[], &[])
}

/// Build `target/vm/<label>.cpio.gz`; `bench` adds the binaries marked
/// [`GuestBinary::bench_only`], `extra` more host binaries as
/// `/bin/<name>` (host path, name), and `files` host files as they are, at
/// a guest path (host path, guest path).
pub fn build_with(
    ws: &Workspace,
    label: &str,
    bench: bool,
    extra: &[(&Path, &str)],
    files: &[(&Path, &str)],
) -> Result<Initramfs> {
    let mut tree = Tree::default();
    for dir in DIRECTORIES {
        tree.insert(dir, Node::Directory);
    }
    // The kernel opens /dev/console for init before devtmpfs is mounted.
    tree.insert("dev/console", Node::CharDevice { major: 5, minor: 1 });
    tree.insert("etc/passwd", Node::File { perm: 0o644, data: b"root:x:0:0:root:/root:/bin/sh\n".to_vec() });
    tree.insert("etc/group", Node::File { perm: 0o644, data: b"root:x:0:\n".to_vec() });

    add_busybox(ws, &mut tree)?;

    let mut optional_included = Vec::new();
    let mut optional_missing = Vec::new();
    for binary in GUEST_BINARIES.iter().filter(|b| bench || !b.bench_only) {
        match binary.locate(ws)? {
            Some(host) => {
                tree.add_binary(&host, binary.name)?;
                if binary.optional {
                    optional_included.push(binary.name);
                }
            }
            None => optional_missing.push(binary.name),
        }
    }
    for (host, name) in extra {
        tree.add_binary(host, name)?;
    }
    for (host, guest_path) in files {
        tree.copy_file(host, guest_path, 0o644)?;
    }
    add_systemd(ws, &mut tree)?;

    let scripts = ws.guest_scripts_dir();
    add_scripts(&mut tree, &scripts, &scripts)?;
    tree.copy_file(&scripts.join(INIT_SCRIPT), "init", 0o755)?;

    let dir = ws.vm_build_dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{label}.cpio.gz"));
    let file = fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut cpio = CpioWriter::new(GzEncoder::new(BufWriter::new(file), Compression::fast()));
    tree.write(&mut cpio)?;
    cpio.finish()?
        .finish()
        .context("gzip failed")?
        .flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Initramfs { path, optional_included, optional_missing })
}

/// `/bin/busybox` plus one `/bin/<applet>` symlink per applet.
fn add_busybox(ws: &Workspace, tree: &mut Tree) -> Result<()> {
    let busybox = locate_required(ws, &BUSYBOX)?;
    ensure!(
        guest_binaries::shared_libraries(&busybox)?.is_empty(),
        "{} is not statically linked; install busybox-static",
        busybox.display()
    );
    tree.copy_file(&busybox, "bin/busybox", 0o755)?;
    let applets = exec::output(Command::new(&busybox).arg("--list"))?;
    for applet in applets.lines().map(str::trim) {
        if !applet.is_empty() && applet != "busybox" && !applet.contains('/') {
            tree.insert(&format!("bin/{applet}"), Node::Symlink("busybox".to_owned()));
        }
    }
    Ok(())
}

/// systemd's programs, at their paths on the host (and in the guest): the
/// service manager, the journal, the helper the manager runs as its last
/// step when it exits, and their command-line tools.
const SYSTEMD_PROGRAMS: &[&str] = &[
    "/lib/systemd/systemd",
    "/lib/systemd/systemd-journald",
    "/lib/systemd/systemd-shutdown",
    "/bin/systemctl",
    "/bin/journalctl",
];
/// The packaged units, copied without their `*.wants/` directories, so
/// that nothing starts that this guest cannot run.
const SYSTEMD_UNIT_DIR: &str = "/lib/systemd/system";
/// Units enabled as Debian enables them (`<target>.wants/<unit>`): the
/// journal, which a service's output goes to.
const SYSTEMD_ENABLED: &[(&str, &str)] =
    &[("sockets.target", "systemd-journald.socket"), ("sysinit.target", "systemd-journald.service")];

/// The guest's `/etc/machine-id` (any fixed 128-bit id in hex).
const GUEST_MACHINE_ID: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

/// A minimal systemd for guest case service_systemd, which boots it (in a
/// pid namespace of its own) to run scx_relay as a service: the programs of
/// [`SYSTEMD_PROGRAMS`] (from the host's systemd package), the packaged
/// units, the journal enabled, and what `cargo xtask install --prefix /`
/// installs: the unit, naming `/bin/scx_relay`, and `/etc/default/scx_relay`.
fn add_systemd(ws: &Workspace, tree: &mut Tree) -> Result<()> {
    for program in SYSTEMD_PROGRAMS {
        let host = Path::new(program);
        ensure!(exec::is_executable(host), "{program} not found; install systemd (`cargo xtask setup`)");
        tree.add_program(host, program)?;
    }
    let mut units: Vec<_> = fs::read_dir(SYSTEMD_UNIT_DIR)
        .and_then(|dir| dir.collect::<std::io::Result<Vec<_>>>())
        .with_context(|| format!("cannot list {SYSTEMD_UNIT_DIR}"))?;
    units.sort_by_key(|entry| entry.file_name());
    for entry in units {
        let guest_path = format!("{SYSTEMD_UNIT_DIR}/{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().with_context(|| format!("cannot stat {guest_path}"))?;
        if kind.is_symlink() {
            let target = fs::read_link(entry.path()).with_context(|| format!("cannot read {guest_path}"))?;
            tree.insert(&guest_path, Node::Symlink(target.to_string_lossy().into_owned()));
        } else if kind.is_file() {
            tree.copy_file(&entry.path(), &guest_path, 0o644)?;
        }
    }
    // A machine id: without one systemd takes the boot for the machine's
    // first, and enables every packaged unit its (absent) presets allow.
    tree.insert("etc/machine-id", Node::File { perm: 0o444, data: format!("{GUEST_MACHINE_ID}\n").into_bytes() });
    for (target, unit) in SYSTEMD_ENABLED {
        tree.insert(
            &format!("etc/systemd/system/{target}.wants/{unit}"),
            Node::Symlink(format!("{SYSTEMD_UNIT_DIR}/{unit}")),
        );
    }
    let plan = install::plan(ws, &install::Options { prefix: "/".into(), destdir: None, no_build: true })?;
    for (path, text) in [&plan.unit, &plan.defaults] {
        tree.insert(&path.to_string_lossy(), Node::File { perm: 0o644, data: text.clone().into_bytes() });
    }
    Ok(())
}

fn locate_required(ws: &Workspace, binary: &GuestBinary) -> Result<PathBuf> {
    binary.locate(ws)?.with_context(|| format!("{} not found", binary.name))
}

/// Mirror `dir` (a part of `tests/vm/`) under `/relay/`; hidden files are
/// skipped, shell scripts are executable.
fn add_scripts(tree: &mut Tree, root: &Path, dir: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            add_scripts(tree, root, &path)?;
            continue;
        }
        let relative =
            path.strip_prefix(root).with_context(|| format!("{} is outside {}", path.display(), root.display()))?;
        let guest_path = format!("{GUEST_SCRIPT_ROOT}/{}", relative.to_string_lossy());
        let perm = if path.extension().is_some_and(|ext| ext == "sh") { 0o755 } else { 0o644 };
        tree.copy_file(&path, &guest_path, perm)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::read::entries;

    #[test]
    fn tree_creates_parents_once_and_in_order() -> Result<()> {
        let mut tree = Tree::default();
        tree.insert("/lib/x86_64-linux-gnu/libc.so.6", Node::File { perm: 0o755, data: b"libc".to_vec() });
        tree.insert("lib64/ld.so", Node::Symlink("../lib/ld.so".to_owned()));
        tree.insert("lib", Node::Directory);
        let mut cpio = CpioWriter::new(Vec::new());
        tree.write(&mut cpio)?;
        let archive = cpio.finish()?;
        let names: Vec<_> = entries(&archive)?.into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["lib", "lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu/libc.so.6", "lib64", "lib64/ld.so"]);
        Ok(())
    }

    /// The image's systemd: the manager and its tools with their libraries,
    /// the journal enabled, and the installed unit naming the guest's
    /// scx_relay.
    #[test]
    fn systemd_and_the_installed_unit() -> Result<()> {
        let ws = Workspace::locate()?;
        let mut tree = Tree::default();
        add_systemd(&ws, &mut tree)?;
        for program in SYSTEMD_PROGRAMS {
            assert!(matches!(tree.nodes.get(program.trim_start_matches('/')), Some(Node::File { .. })), "{program}");
        }
        assert!(tree.nodes.keys().any(|path| path.contains("libsystemd-shared")));
        assert!(matches!(tree.nodes.get("lib/systemd/system/multi-user.target"), Some(Node::File { .. })));
        assert!(!tree.nodes.keys().any(|path| path.starts_with("lib/systemd/system/multi-user.target.wants")));
        let wants = tree.nodes.get("etc/systemd/system/sockets.target.wants/systemd-journald.socket");
        assert!(
            matches!(wants, Some(Node::Symlink(target)) if target == "/lib/systemd/system/systemd-journald.socket")
        );
        let Some(Node::File { data, .. }) = tree.nodes.get("etc/systemd/system/scx_relay.service") else {
            panic!("no unit");
        };
        assert!(String::from_utf8_lossy(data).contains("\nExecStart=/bin/scx_relay $SCX_FLAGS\n"));
        assert!(matches!(tree.nodes.get("etc/default/scx_relay"), Some(Node::File { .. })));
        Ok(())
    }
}
