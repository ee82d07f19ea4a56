//! Packing the guest's initramfs: busybox and its applets, `/init`, the
//! guest scripts of `tests/vm/` under `/relay/`, and the host binaries of
//! [`guest_binaries::GUEST_BINARIES`] with their shared libraries, as a
//! gzip-compressed newc cpio.

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
        self.copy_file(host, &format!("bin/{name}"), 0o755)?;
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
    build_with(ws, label, false, &[])
}

/// Build `target/vm/<label>.cpio.gz`; `bench` adds the binaries marked
/// [`GuestBinary::bench_only`], and `extra` more host binaries as
/// `/bin/<name>` (host path, name).
pub fn build_with(ws: &Workspace, label: &str, bench: bool, extra: &[(&Path, &str)]) -> Result<Initramfs> {
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
}
