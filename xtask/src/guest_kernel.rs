//! The guest kernel: Debian's cloud kernel from trixie-backports, which has
//! `CONFIG_SCHED_CLASS_EXT=y` (the host kernel does not).
//!
//! It is fetched with a *private* apt configuration (own sources list, lists,
//! cache and an empty dpkg status under `.cache/vm/apt/`), so the host's apt
//! state is never touched, and the package is unpacked with `dpkg-deb -x`,
//! never installed. The newest version is resolved at run time by following
//! `linux-image-cloud-amd64` → `linux-image-<rel>` → `linux-binary-<rel>`
//! (the package holding `usr/lib/modules/<rel>/vmlinuz`); `linux-base-<rel>`
//! is fetched alongside because it carries the kernel's `config`.
//!
//! Cache layout (under `.cache/vm/`):
//! - `apt/`: `sources.list`, `status` (empty), `lists/`, `cache/`
//! - `kernel/<rel>/vmlinuz`, `kernel/<rel>/config`, `kernel/<rel>/package`
//! - `kernel/current`: the `<rel>` in use
//!
//! Once `kernel/current` names a release whose `vmlinuz` exists, nothing is
//! downloaded and apt is not even asked, unless `--refresh` is given.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{ensure, Context, Result};

use crate::{apt_source, exec, workspace::Workspace};

/// The suite the guest kernel comes from.
const SUITE: &str = "trixie-backports";
/// The meta package whose dependency chain names the newest cloud kernel.
const META_PACKAGE: &str = "linux-image-cloud-amd64";
/// The option a sched_ext kernel must have.
const SCHED_EXT_OPTION: &str = "CONFIG_SCHED_CLASS_EXT=y";
/// The keyring apt verifies the suite's `InRelease` with.
///
/// `debian-archive-keyring` (2023.3+deb12u2 on bookworm) already ships the
/// trixie archive keys, and the backports suite is signed with them, so plain
/// `signed-by` verification works; no fallback (such as `trusted=yes`) is
/// needed, and none is used: a missing key makes `apt-get update` fail.
const ARCHIVE_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Options shared by every subcommand that needs the guest kernel.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KernelOptions {
    /// Ask the archive for a newer guest kernel even if one is cached.
    #[arg(long)]
    pub refresh: bool,
    /// Debian mirror URI to fetch the guest kernel from (default: the main
    /// Debian archive named in the host's apt sources).
    #[arg(long, value_name = "URI")]
    pub mirror: Option<String>,
}

/// A guest kernel ready to boot.
#[derive(Debug, Clone)]
pub struct GuestKernel {
    /// Kernel release, e.g. `7.3.4+deb13-cloud-amd64`.
    pub release: String,
    /// The Debian package the image came from, with its version.
    pub package: String,
    /// The compressed kernel image for `qemu -kernel`.
    pub vmlinuz: PathBuf,
    /// The kernel's build configuration, when the packages carried one.
    pub config: Option<PathBuf>,
}

/// Return the cached guest kernel, fetching it first when absent (or when
/// `--refresh` finds a newer one).
pub fn ensure(ws: &Workspace, opts: &KernelOptions) -> Result<GuestKernel> {
    let cache = ws.vm_cache_dir();
    let kernels = cache.join("kernel");
    if !opts.refresh {
        if let Some(kernel) = cached(&kernels)? {
            return Ok(kernel);
        }
    }
    let mirror = match &opts.mirror {
        Some(uri) => uri.trim_end_matches('/').to_owned(),
        None => apt_source::system_debian_mirror()?,
    };
    let apt = PrivateApt::prepare(&cache.join("apt"), &mirror)?;
    eprintln!("guest kernel: updating package lists for {SUITE} from {mirror}");
    apt.update()?;
    let chain = resolve(&apt)?;
    let dir = kernels.join(&chain.release);
    let already = fs::read_to_string(dir.join("package")).ok();
    if dir.join("vmlinuz").is_file() && already.as_deref().map(str::trim) == Some(&chain.label()) {
        eprintln!("guest kernel: {} is already cached", chain.label());
    } else {
        fetch_and_unpack(&apt, &chain, &cache.join("download"), &dir)?;
    }
    fs::write(kernels.join("current"), format!("{}\n", chain.release))
        .with_context(|| format!("cannot write {}", kernels.join("current").display()))?;
    prune_other_releases(&kernels, &chain.release)?;
    let kernel = cached(&kernels)?.context("guest kernel missing right after fetching it")?;
    Ok(kernel)
}

/// The kernel named by `kernel/current`, if its image is present.
fn cached(kernels: &Path) -> Result<Option<GuestKernel>> {
    let current = kernels.join("current");
    let Ok(release) = fs::read_to_string(&current) else {
        return Ok(None);
    };
    let release = release.trim().to_owned();
    let dir = kernels.join(&release);
    let vmlinuz = dir.join("vmlinuz");
    if release.is_empty() || !vmlinuz.is_file() {
        return Ok(None);
    }
    let package = fs::read_to_string(dir.join("package"))
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| format!("(unknown package for {release})"));
    let config = Some(dir.join("config")).filter(|path| path.is_file());
    if let Some(config) = &config {
        check_config(config)?;
    }
    Ok(Some(GuestKernel { release, package, vmlinuz, config }))
}

/// Fail unless the kernel config enables sched_ext.
fn check_config(config: &Path) -> Result<()> {
    let text = fs::read_to_string(config).with_context(|| format!("cannot read kernel config {}", config.display()))?;
    ensure!(
        text.lines().any(|line| line.trim() == SCHED_EXT_OPTION),
        "guest kernel config {} lacks {SCHED_EXT_OPTION}",
        config.display()
    );
    Ok(())
}

/// apt-get / apt-cache run against a private configuration.
struct PrivateApt {
    /// `-o Name=Value` settings passed to every apt command.
    options: Vec<String>,
}

impl PrivateApt {
    /// Write the private sources list and empty state under `dir`.
    fn prepare(dir: &Path, mirror: &str) -> Result<Self> {
        let lists = dir.join("lists");
        let cache = dir.join("cache");
        for sub in [lists.join("partial"), cache.join("archives").join("partial")] {
            fs::create_dir_all(&sub).with_context(|| format!("cannot create {}", sub.display()))?;
        }
        let sources = dir.join("sources.list");
        let line = format!("deb [arch=amd64 signed-by={ARCHIVE_KEYRING}] {mirror} {SUITE} main\n");
        fs::write(&sources, line).with_context(|| format!("cannot write {}", sources.display()))?;
        // An empty dpkg status: what the host has installed must not
        // influence what apt resolves for the guest.
        let status = dir.join("status");
        fs::write(&status, "").with_context(|| format!("cannot write {}", status.display()))?;
        let path = |p: &Path| p.display().to_string();
        let options = vec![
            format!("Dir::Etc::SourceList={}", path(&sources)),
            "Dir::Etc::SourceParts=/dev/null".to_owned(),
            "Dir::Etc::Preferences=/dev/null".to_owned(),
            "Dir::Etc::PreferencesParts=/dev/null".to_owned(),
            format!("Dir::State::Lists={}", path(&lists)),
            format!("Dir::State::status={}", path(&status)),
            format!("Dir::Cache={}", path(&cache)),
            "APT::Architecture=amd64".to_owned(),
            "APT::Architectures=amd64".to_owned(),
            "Acquire::Languages=none".to_owned(),
            // The downloads land in our cache directory, which apt's
            // unprivileged `_apt` user may not be able to enter; when run as
            // root, apt then downloads as root after printing a warning.
            // Saying so up front keeps the output quiet; the files are still
            // checked against the signed Release file.
            "APT::Sandbox::User=root".to_owned(),
        ];
        Ok(Self { options })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("LC_ALL", "C");
        for option in &self.options {
            cmd.arg("-o").arg(option);
        }
        cmd
    }

    fn update(&self) -> Result<()> {
        exec::run(self.command("apt-get").args(["-qq", "--error-on=any", "update"]))
            .context("apt-get update (private configuration for the guest kernel) failed")
    }

    /// The `Depends:` package names of `package`'s candidate version.
    fn depends(&self, package: &str) -> Result<Vec<String>> {
        let text = exec::output(self.command("apt-cache").args(["depends", package]))?;
        Ok(parse_depends(&text))
    }

    /// The candidate version of `package`.
    fn version(&self, package: &str) -> Result<String> {
        let text = exec::output(self.command("apt-cache").args(["show", "--no-all-versions", package]))?;
        text.lines()
            .find_map(|line| line.strip_prefix("Version:"))
            .map(|v| v.trim().to_owned())
            .with_context(|| format!("apt-cache show {package}: no Version field"))
    }

    /// Download `packages` into `dir` (the current directory of apt-get).
    fn download(&self, packages: &[&str], dir: &Path) -> Result<()> {
        exec::run(self.command("apt-get").arg("-qq").arg("download").args(packages).current_dir(dir))
    }
}

/// The packages that make up one kernel release.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KernelChain {
    /// Kernel release, e.g. `7.3.4+deb13-cloud-amd64`.
    release: String,
    /// The package holding the image (`linux-binary-<rel>`, or the image
    /// package itself for older packaging).
    image_package: String,
    /// Its version.
    version: String,
    /// `linux-base-<rel>` (carries `config`), when the chain has one.
    base_package: Option<String>,
}

impl KernelChain {
    fn label(&self) -> String {
        format!("{} {}", self.image_package, self.version)
    }
}

/// Parse `apt-cache depends` output into the names after `Depends:`.
fn parse_depends(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches('|');
            let name = line.strip_prefix("Depends:")?.trim();
            Some(name.trim_start_matches('<').trim_end_matches('>').to_owned())
        })
        .collect()
}

/// From the meta package's dependencies, the versioned image package and
/// its release (`linux-image-<rel>` where `<rel>` starts with a digit).
fn image_package_of(meta_depends: &[String]) -> Option<(String, String)> {
    meta_depends.iter().find_map(|name| {
        let release = name.strip_prefix("linux-image-")?;
        release.starts_with(|c: char| c.is_ascii_digit()).then(|| (name.clone(), release.to_owned()))
    })
}

/// Follow the dependency chain from the meta package to the image holder.
fn resolve(apt: &PrivateApt) -> Result<KernelChain> {
    let meta = apt.depends(META_PACKAGE)?;
    let (image, release) = image_package_of(&meta)
        .with_context(|| format!("{META_PACKAGE} in {SUITE} depends on no linux-image-<release> ({meta:?})"))?;
    let image_deps = apt.depends(&image)?;
    let binary = format!("linux-binary-{release}");
    let base = format!("linux-base-{release}");
    let image_package = if image_deps.contains(&binary) { binary } else { image };
    let version = apt.version(&image_package)?;
    Ok(KernelChain { release, image_package, version, base_package: image_deps.contains(&base).then_some(base) })
}

/// Download the chain's packages, unpack them and keep `vmlinuz` and
/// `config` in `dest`.
fn fetch_and_unpack(apt: &PrivateApt, chain: &KernelChain, work: &Path, dest: &Path) -> Result<()> {
    eprintln!("guest kernel: downloading {}", chain.label());
    if work.exists() {
        fs::remove_dir_all(work).with_context(|| format!("cannot clear {}", work.display()))?;
    }
    fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let mut packages = vec![chain.image_package.as_str()];
    packages.extend(chain.base_package.as_deref());
    apt.download(&packages, work)?;

    let unpacked = work.join("unpacked");
    for entry in fs::read_dir(work).with_context(|| format!("cannot list {}", work.display()))? {
        let path = entry.with_context(|| format!("cannot list {}", work.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "deb") {
            exec::run(Command::new("dpkg-deb").arg("-x").arg(&path).arg(&unpacked))?;
        }
    }
    let rel = &chain.release;
    let find = |candidates: [String; 2]| candidates.into_iter().map(|c| unpacked.join(c)).find(|p| p.is_file());
    let vmlinuz = find([format!("usr/lib/modules/{rel}/vmlinuz"), format!("boot/vmlinuz-{rel}")])
        .with_context(|| format!("{} holds no vmlinuz for {rel}", chain.label()))?;
    let config = find([format!("usr/lib/modules/{rel}/config"), format!("boot/config-{rel}")]);

    fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    copy(&vmlinuz, &dest.join("vmlinuz"))?;
    match &config {
        Some(config) => {
            copy(config, &dest.join("config"))?;
            check_config(&dest.join("config"))?;
        }
        None => eprintln!("guest kernel: no config file in the packages; cannot check {SCHED_EXT_OPTION}"),
    }
    fs::write(dest.join("package"), format!("{}\n", chain.label()))
        .with_context(|| format!("cannot write {}", dest.join("package").display()))?;
    fs::remove_dir_all(work).with_context(|| format!("cannot clean {}", work.display()))?;
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).map(drop).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

/// Remove cached kernels other than `keep`.
fn prune_other_releases(kernels: &Path, keep: &str) -> Result<()> {
    for entry in fs::read_dir(kernels).with_context(|| format!("cannot list {}", kernels.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", kernels.display()))?;
        let path = entry.path();
        if path.is_dir() && entry.file_name() != keep {
            fs::remove_dir_all(&path).with_context(|| format!("cannot remove old kernel {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = "\
linux-image-cloud-amd64
  Depends: linux-base-cloud-amd64
  Depends: linux-image-7.3.4+deb13-cloud-amd64
  Depends: linux-modules-cloud-amd64
";

    #[test]
    fn depends_are_parsed() {
        let names = parse_depends(META);
        assert_eq!(names.len(), 3);
        assert_eq!(names[1], "linux-image-7.3.4+deb13-cloud-amd64");
        let alternatives = " |Depends: dracut\n  Depends: <linux-initramfs-tool>\n";
        assert_eq!(parse_depends(alternatives), ["dracut", "linux-initramfs-tool"]);
    }

    #[test]
    fn image_package_and_release_are_found() {
        let names = parse_depends(META);
        assert_eq!(
            image_package_of(&names),
            Some(("linux-image-7.3.4+deb13-cloud-amd64".to_owned(), "7.3.4+deb13-cloud-amd64".to_owned()))
        );
        assert_eq!(image_package_of(&["linux-image-cloud-amd64".to_owned()]), None);
    }
}
