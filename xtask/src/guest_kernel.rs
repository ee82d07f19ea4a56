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
//! - `kernel/current`: the `<rel>` in use by default (the newest)
//!
//! Once `kernel/current` names a release whose `vmlinuz` exists, nothing is
//! downloaded and apt is not even asked, unless `--refresh` is given.
//!
//! `--kernel <series>` (e.g. `6.19`) boots the newest cloud kernel of that
//! series instead: the suite carries the images of older series beside the
//! newest (`linux-image-6.19.14+deb13-cloud-amd64`), and one release per
//! series is kept in the cache (`kernel/<rel>/`), `current` untouched.

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
    /// Boot the newest cloud kernel of this series (`6.19`, `7.2`, `7.3`:
    /// major.minor) from the suite, instead of the newest of all.
    #[arg(long, value_name = "SERIES", value_parser = parse_series)]
    pub kernel: Option<String>,
}

/// `--kernel`'s value: `<major>.<minor>`, both numbers.
fn parse_series(text: &str) -> Result<String, String> {
    let ok = text.split_once('.').is_some_and(|(major, minor)| {
        [major, minor].iter().all(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
    });
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("expected a kernel series as major.minor, such as 6.19 or 7.3; got '{text}'"))
    }
}

/// The series (`6.19`) and patch level (14) of a release such as
/// `6.19.14+deb13-cloud-amd64`.
fn series_and_patch(release: &str) -> Option<(&str, u32)> {
    let version = release.split(['+', '-']).next()?;
    let (series, patch) = version.rsplit_once('.')?;
    parse_series(series).ok()?;
    Some((series, patch.parse().ok()?))
}

/// Of the package names `linux-image-<rel>`, the cloud image of `series`
/// with the highest patch level: `(package, release)`.
fn newest_of_series(packages: &[String], series: &str) -> Option<(String, String)> {
    packages
        .iter()
        .filter_map(|name| {
            let release = name.strip_prefix("linux-image-")?;
            let (s, patch) = series_and_patch(release)?;
            (s == series && release.ends_with("-cloud-amd64")).then(|| (patch, name.clone(), release.to_owned()))
        })
        .max_by_key(|(patch, _, _)| *patch)
        .map(|(_, name, release)| (name, release))
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
        let found = match &opts.kernel {
            Some(series) => cached_series(&kernels, series)?,
            None => cached(&kernels)?,
        };
        if let Some(kernel) = found {
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
    let chain = match &opts.kernel {
        Some(series) => resolve_series(&apt, series)?,
        None => resolve(&apt)?,
    };
    let dir = kernels.join(&chain.release);
    let already = fs::read_to_string(dir.join("package")).ok();
    if dir.join("vmlinuz").is_file() && already.as_deref().map(str::trim) == Some(&chain.label()) {
        eprintln!("guest kernel: {} is already cached", chain.label());
    } else {
        fetch_and_unpack(&apt, &chain, &cache.join("download"), &dir)?;
    }
    prune_older_of_series(&kernels, &chain.release)?;
    let kernel = match &opts.kernel {
        Some(series) => cached_series(&kernels, series)?,
        None => {
            fs::write(kernels.join("current"), format!("{}\n", chain.release))
                .with_context(|| format!("cannot write {}", kernels.join("current").display()))?;
            cached(&kernels)?
        }
    };
    kernel.context("guest kernel missing right after fetching it")
}

/// The cached kernel of `series` with the highest patch level, if any.
fn cached_series(kernels: &Path, series: &str) -> Result<Option<GuestKernel>> {
    let Ok(entries) = fs::read_dir(kernels) else { return Ok(None) };
    let newest = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|rel| kernels.join(rel).join("vmlinuz").is_file())
        .filter_map(|rel| {
            let (s, patch) = series_and_patch(&rel)?;
            (s == series).then_some((patch, rel.clone()))
        })
        .max_by_key(|(patch, _)| *patch);
    match newest {
        Some((_, release)) => load(kernels, &release).map(Some),
        None => Ok(None),
    }
}

/// The kernel named by `kernel/current`, if its image is present.
fn cached(kernels: &Path) -> Result<Option<GuestKernel>> {
    let current = kernels.join("current");
    let Ok(release) = fs::read_to_string(&current) else {
        return Ok(None);
    };
    let release = release.trim().to_owned();
    if release.is_empty() || !kernels.join(&release).join("vmlinuz").is_file() {
        return Ok(None);
    }
    load(kernels, &release).map(Some)
}

/// The cached kernel `release` (its `vmlinuz` is there).
fn load(kernels: &Path, release: &str) -> Result<GuestKernel> {
    let release = release.to_owned();
    let dir = kernels.join(&release);
    let vmlinuz = dir.join("vmlinuz");
    let package = fs::read_to_string(dir.join("package"))
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| format!("(unknown package for {release})"));
    let config = Some(dir.join("config")).filter(|path| path.is_file());
    if let Some(config) = &config {
        check_config(config)?;
    }
    Ok(GuestKernel { release, package, vmlinuz, config })
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

    /// The names of the packages starting with `prefix`.
    fn package_names(&self, prefix: &str) -> Result<Vec<String>> {
        let text = exec::output(self.command("apt-cache").args(["pkgnames", prefix]))?;
        Ok(text.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect())
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
    chain_of(apt, image, release)
}

/// The chain of the newest cloud image of `series` in the suite.
fn resolve_series(apt: &PrivateApt, series: &str) -> Result<KernelChain> {
    let names = apt.package_names(&format!("linux-image-{series}."))?;
    let (image, release) = newest_of_series(&names, series).with_context(|| {
        format!("{SUITE} has no cloud kernel of series {series} (linux-image-{series}.<n>+...-cloud-amd64)")
    })?;
    chain_of(apt, image, release)
}

/// From an image package to the packages holding its image and config.
fn chain_of(apt: &PrivateApt, image: String, release: String) -> Result<KernelChain> {
    let image_deps = apt.depends(&image)?;
    let binary = format!("linux-binary-{release}");
    let base = format!("linux-base-{release}");
    let image_package = if image_deps.contains(&binary) { binary } else { image };
    let version = apt.version(&image_package)?;
    // The suite keeps an older release's image after its linux-base
    // (which carries the config) is gone: 6.19.14's, for one.
    let base_package = Some(base).filter(|b| image_deps.contains(b) && apt.version(b).is_ok());
    Ok(KernelChain { release, image_package, version, base_package })
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

/// Remove the cached kernels of `keep`'s series other than `keep` (one
/// release per series stays; a name that is no release goes too), never
/// the one `current` names (the default kernel).
fn prune_older_of_series(kernels: &Path, keep: &str) -> Result<()> {
    let series = series_and_patch(keep).map(|(s, _)| s);
    let current = fs::read_to_string(kernels.join("current")).unwrap_or_default();
    for entry in fs::read_dir(kernels).with_context(|| format!("cannot list {}", kernels.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", kernels.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let same_series = series_and_patch(&name).map(|(s, _)| s) == series;
        let prunable = name != keep && name != current.trim() && (same_series || series_and_patch(&name).is_none());
        if path.is_dir() && prunable {
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

    #[test]
    fn series_are_checked_and_parsed() {
        assert_eq!(parse_series("6.19"), Ok("6.19".to_owned()));
        for bad in ["6", "6.", ".19", "6.19.1", "v6.19", "six.19", ""] {
            assert!(parse_series(bad).is_err(), "{bad}");
        }
        assert_eq!(series_and_patch("6.19.14+deb13-cloud-amd64"), Some(("6.19", 14)));
        assert_eq!(series_and_patch("7.3.4+deb13-cloud-amd64"), Some(("7.3", 4)));
        assert_eq!(series_and_patch("current"), None);
    }

    #[test]
    fn the_newest_cloud_image_of_a_series_is_chosen() {
        let names: Vec<String> = [
            "linux-image-6.19.6+deb13-cloud-amd64",
            "linux-image-6.19.14+deb13-cloud-amd64",
            "linux-image-6.19.10+deb13-cloud-amd64",
            "linux-image-6.19.20+deb13-cloud-amd64-dbg",
            "linux-image-6.19.21+deb13-amd64",
            "linux-image-6.1.99+deb13-cloud-amd64",
            "linux-image-7.2.12+deb13-cloud-amd64",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            newest_of_series(&names, "6.19"),
            Some(("linux-image-6.19.14+deb13-cloud-amd64".to_owned(), "6.19.14+deb13-cloud-amd64".to_owned()))
        );
        assert_eq!(newest_of_series(&names, "6.1").map(|(_, r)| r), Some("6.1.99+deb13-cloud-amd64".to_owned()));
        assert_eq!(newest_of_series(&names, "7.3"), None);
    }

    #[test]
    fn one_release_per_series_stays_cached() {
        let dir = std::env::temp_dir().join(format!("xtask-kernels-{}", std::process::id()));
        let releases = [
            "6.19.10+deb13-cloud-amd64",
            "6.19.14+deb13-cloud-amd64",
            "7.3.3+deb13-cloud-amd64",
            "7.3.4+deb13-cloud-amd64",
        ];
        for rel in releases.iter().chain(&["junk"]) {
            fs::create_dir_all(dir.join(rel)).unwrap();
            fs::write(dir.join(rel).join("vmlinuz"), "").unwrap();
        }
        // `current` names 7.3.3 (say a --kernel 7.3 --refresh found 7.3.4).
        fs::write(dir.join("current"), "7.3.3+deb13-cloud-amd64\n").unwrap();
        prune_older_of_series(&dir, "6.19.14+deb13-cloud-amd64").unwrap();
        prune_older_of_series(&dir, "7.3.4+deb13-cloud-amd64").unwrap();
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "current")
            .collect();
        left.sort();
        assert_eq!(left, ["6.19.14+deb13-cloud-amd64", "7.3.3+deb13-cloud-amd64", "7.3.4+deb13-cloud-amd64"]);
        assert_eq!(cached_series(&dir, "6.19").unwrap().unwrap().release, "6.19.14+deb13-cloud-amd64");
        assert!(cached_series(&dir, "7.2").unwrap().is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
