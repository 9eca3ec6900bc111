//! Language lockfiles, read the way Trivy's language analyzers read them.
//!
//! [`find`] walks a directory, picks files by name as Trivy's analyzers do (`Cargo.lock`,
//! `package-lock.json`, `go.mod`, …), parses each with its ecosystem's parser and returns one
//! [`LangTarget`] per file: its path relative to the root, Trivy's `Type` and the packages
//! (name, version, ID, relationship, dev flag, licenses, dependencies and line locations where
//! Trivy reports them). Companion files are read the way Trivy's analyzers read them:
//! `package.json` and `node_modules/**/package.json` (licenses, root and direct dependencies),
//! `Cargo.toml`, `pyproject.toml`, `composer.json`, `go.sum`.
//!
//! Every parser is bounded and returns a typed [`Error`] (file and line) on bad input; none
//! panics. [`parse`] runs one parser on bytes alone (no companion files), for tests and fuzzing.

pub mod dotnet;
pub mod gobinary;
pub mod golang;
pub mod installed;
pub mod java;
pub mod javadb;
pub mod misc;
pub mod node;
pub mod python;
pub mod report;
pub mod rustbinary;
pub mod tree;
pub mod vex;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest lockfile read (bytes).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Most directory entries visited by one walk.
pub const MAX_WALK_ENTRIES: usize = 2_000_000;

/// Trivy's `Relationship` of a package to its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Relationship {
    /// Not known (lockfiles without a dependency graph).
    #[default]
    Unknown,
    /// The project itself.
    Root,
    /// A workspace member.
    Workspace,
    /// A direct dependency.
    Direct,
    /// A transitive dependency.
    Indirect,
}

impl Relationship {
    /// Trivy's JSON spelling; `None` for unknown (omitted).
    #[must_use]
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Relationship::Unknown => None,
            Relationship::Root => Some("root"),
            Relationship::Workspace => Some("workspace"),
            Relationship::Direct => Some("direct"),
            Relationship::Indirect => Some("indirect"),
        }
    }
}

/// Lines of the lockfile a package was read from (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// First line.
    pub start_line: usize,
    /// Last line.
    pub end_line: usize,
}

/// One package of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package {
    /// Trivy's package ID (`name@version`, `group:artifact:version`, …); empty where Trivy sets
    /// none (requirements.txt, Pipfile.lock).
    pub id: String,
    /// Name as written in the lockfile.
    pub name: String,
    /// Version.
    pub version: String,
    /// Relationship to the project.
    pub relationship: Relationship,
    /// A development dependency (left out unless dev dependencies are asked for).
    pub dev: bool,
    /// Licenses (from the lockfile or the installed package's metadata).
    pub licenses: Vec<String>,
    /// IDs of the packages this one depends on.
    pub depends_on: Vec<String>,
    /// Where in the lockfile it is written.
    pub locations: Vec<Location>,
    /// The file it was read from, for installed packages gathered into one target per
    /// language (Trivy's `FilePath`: `usr/lib/python3/site-packages/x-1.0.dist-info/METADATA`,
    /// `app.war/WEB-INF/lib/y-2.0.jar`); empty for lockfile packages.
    pub file_path: String,
}

/// Trivy's language `Type` of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LangType {
    /// `package-lock.json`.
    Npm,
    /// `yarn.lock`.
    Yarn,
    /// `pnpm-lock.yaml`.
    Pnpm,
    /// `bun.lock`.
    Bun,
    /// `requirements.txt`.
    Pip,
    /// `Pipfile.lock`.
    Pipenv,
    /// `poetry.lock`.
    Poetry,
    /// `uv.lock`.
    Uv,
    /// `pylock.toml`.
    PyLock,
    /// `go.mod`.
    GoModule,
    /// `pom.xml`.
    Pom,
    /// `gradle.lockfile`.
    Gradle,
    /// `build.sbt.lock`.
    Sbt,
    /// `conan.lock`.
    Conan,
    /// `packages.lock.json`.
    NuGet,
    /// `*.deps.json`.
    DotNetCore,
    /// `Directory.Packages.props`.
    PackagesProps,
    /// `Package.resolved`.
    Swift,
    /// `Podfile.lock`.
    Cocoapods,
    /// `pubspec.lock`.
    Pub,
    /// `mix.lock`.
    Hex,
    /// `composer.lock`.
    Composer,
    /// `vendor/composer/installed.json`.
    ComposerVendor,
    /// `Cargo.lock`.
    Cargo,
    /// Installed Python packages (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`).
    PythonPkg,
    /// Installed Node.js packages (`package.json`).
    NodePkg,
    /// Java archives (`*.jar`, `*.war`, `*.ear`, `*.par`).
    Jar,
    /// Go binaries' build information.
    GoBinary,
    /// Installed Ruby gems (`specifications/*.gemspec`).
    GemSpec,
    /// Rust binaries built with cargo-auditable (the `.dep-v0` section).
    RustBinary,
    /// Installed conda packages (`envs/<env>/conda-meta/<name>-<version>-<build>.json`).
    CondaPkg,
}

impl LangType {
    /// Every type.
    pub const ALL: [LangType; 31] = [
        LangType::Npm,
        LangType::Yarn,
        LangType::Pnpm,
        LangType::Bun,
        LangType::Pip,
        LangType::Pipenv,
        LangType::Poetry,
        LangType::Uv,
        LangType::PyLock,
        LangType::GoModule,
        LangType::Pom,
        LangType::Gradle,
        LangType::Sbt,
        LangType::Conan,
        LangType::NuGet,
        LangType::DotNetCore,
        LangType::PackagesProps,
        LangType::Swift,
        LangType::Cocoapods,
        LangType::Pub,
        LangType::Hex,
        LangType::Composer,
        LangType::ComposerVendor,
        LangType::Cargo,
        LangType::PythonPkg,
        LangType::NodePkg,
        LangType::Jar,
        LangType::GoBinary,
        LangType::GemSpec,
        LangType::RustBinary,
        LangType::CondaPkg,
    ];

    /// Trivy's `Type` string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LangType::Npm => "npm",
            LangType::Yarn => "yarn",
            LangType::Pnpm => "pnpm",
            LangType::Bun => "bun",
            LangType::Pip => "pip",
            LangType::Pipenv => "pipenv",
            LangType::Poetry => "poetry",
            LangType::Uv => "uv",
            LangType::PyLock => "pylock",
            LangType::GoModule => "gomod",
            LangType::Pom => "pom",
            LangType::Gradle => "gradle",
            LangType::Sbt => "sbt",
            LangType::Conan => "conan",
            LangType::NuGet => "nuget",
            LangType::DotNetCore => "dotnet-core",
            LangType::PackagesProps => "packages-props",
            LangType::Swift => "swift",
            LangType::Cocoapods => "cocoapods",
            LangType::Pub => "pub",
            LangType::Hex => "hex",
            LangType::Composer => "composer",
            LangType::ComposerVendor => "composer-vendor",
            LangType::Cargo => "cargo",
            LangType::PythonPkg => "python-pkg",
            LangType::NodePkg => "node-pkg",
            LangType::Jar => "jar",
            LangType::GoBinary => "gobinary",
            LangType::GemSpec => "gemspec",
            LangType::RustBinary => "rustbinary",
            LangType::CondaPkg => "conda-pkg",
        }
    }

    /// Trivy's `Target` for the installed packages of a type gathered into one result
    /// (`Python`, `Conda`, `Node.js`, `Java`, `Ruby`); `None` for types reported per file.
    #[must_use]
    pub fn aggregate_target(self) -> Option<&'static str> {
        match self {
            LangType::PythonPkg => Some("Python"),
            LangType::NodePkg => Some("Node.js"),
            LangType::Jar => Some("Java"),
            LangType::GemSpec => Some("Ruby"),
            LangType::CondaPkg => Some("Conda"),
            _ => None,
        }
    }

    /// Trivy's analyzer name (`AnalyzedBy`).
    #[must_use]
    pub fn analyzer(self) -> &'static str {
        match self {
            LangType::Conan => "conan-lock",
            LangType::Hex => "mix-lock",
            LangType::Pub => "pubspec-lock",
            other => other.as_str(),
        }
    }

    /// The package-URL type.
    #[must_use]
    pub fn purl_type(self) -> &'static str {
        match self {
            LangType::Npm | LangType::Yarn | LangType::Pnpm | LangType::Bun => "npm",
            LangType::Pip | LangType::Pipenv | LangType::Poetry | LangType::Uv | LangType::PyLock => "pypi",
            LangType::GoModule => "golang",
            LangType::Pom | LangType::Gradle | LangType::Sbt => "maven",
            LangType::Conan => "conan",
            LangType::NuGet | LangType::DotNetCore | LangType::PackagesProps => "nuget",
            LangType::Swift => "swift",
            LangType::Cocoapods => "cocoapods",
            LangType::Pub => "pub",
            LangType::Hex => "hex",
            LangType::Composer | LangType::ComposerVendor => "composer",
            LangType::Cargo => "cargo",
            LangType::PythonPkg => "pypi",
            LangType::NodePkg => "npm",
            LangType::Jar => "maven",
            LangType::GoBinary => "golang",
            LangType::GemSpec => "gem",
            LangType::RustBinary => "cargo",
            LangType::CondaPkg => "conda",
        }
    }

    /// Trivy DB ecosystem (the bucket prefix before `::`).
    #[must_use]
    pub fn ecosystem(self) -> &'static str {
        match self {
            LangType::Npm | LangType::Yarn | LangType::Pnpm | LangType::Bun => "npm",
            LangType::Pip | LangType::Pipenv | LangType::Poetry | LangType::Uv | LangType::PyLock => "pip",
            LangType::GoModule => "go",
            LangType::Pom | LangType::Gradle | LangType::Sbt => "maven",
            LangType::Conan => "conan",
            LangType::NuGet | LangType::DotNetCore | LangType::PackagesProps => "nuget",
            LangType::Swift => "swift",
            LangType::Cocoapods => "cocoapods",
            LangType::Pub => "pub",
            LangType::Hex => "erlang",
            LangType::Composer | LangType::ComposerVendor => "composer",
            LangType::Cargo => "cargo",
            LangType::PythonPkg => "pip",
            LangType::NodePkg => "npm",
            LangType::Jar => "maven",
            LangType::GoBinary => "go",
            LangType::GemSpec => "rubygems",
            LangType::RustBinary => "cargo",
            // Trivy inventories conda packages (SBOM) but matches no advisories to them
            LangType::CondaPkg => "conda",
        }
    }

    /// A lockfile type (Trivy's `TypeLockfiles`: off for root filesystems and images).
    #[must_use]
    pub fn is_lockfile(self) -> bool {
        !matches!(
            self,
            LangType::ComposerVendor
                | LangType::Cargo
                | LangType::NuGet
                | LangType::DotNetCore
                | LangType::PackagesProps
                | LangType::PythonPkg
                | LangType::NodePkg
                | LangType::Jar
                | LangType::GoBinary
                | LangType::GemSpec
                | LangType::RustBinary
                | LangType::CondaPkg
        )
    }

    /// An installed-package type (Trivy's `TypeIndividualPkgs`: off for `fs` and `repo`).
    #[must_use]
    pub fn is_individual(self) -> bool {
        matches!(
            self,
            LangType::ComposerVendor
                | LangType::PythonPkg
                | LangType::NodePkg
                | LangType::Jar
                | LangType::GoBinary
                | LangType::GemSpec
                | LangType::RustBinary
                | LangType::CondaPkg
        )
    }

    /// The type of a file, chosen by its path (slash-separated, relative to the scan root)
    /// the way Trivy's analyzers choose.
    #[must_use]
    pub fn of_path(rel: &str) -> Option<LangType> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let in_node_modules = rel.split('/').any(|s| s == "node_modules");
        Some(match name {
            "package-lock.json" if !in_node_modules => LangType::Npm,
            "yarn.lock" if !in_node_modules => LangType::Yarn,
            "pnpm-lock.yaml" if !in_node_modules => LangType::Pnpm,
            "bun.lock" if !in_node_modules => LangType::Bun,
            "requirements.txt" => LangType::Pip,
            "Pipfile.lock" => LangType::Pipenv,
            "poetry.lock" => LangType::Poetry,
            "uv.lock" => LangType::Uv,
            "go.mod" => LangType::GoModule,
            "pom.xml" => LangType::Pom,
            "build.sbt.lock" => LangType::Sbt,
            "conan.lock" => LangType::Conan,
            "packages.lock.json" => LangType::NuGet,
            "Package.resolved" => LangType::Swift,
            "Podfile.lock" => LangType::Cocoapods,
            "pubspec.lock" => LangType::Pub,
            "mix.lock" => LangType::Hex,
            "composer.lock" => LangType::Composer,
            "installed.json" => LangType::ComposerVendor,
            "Cargo.lock" => LangType::Cargo,
            "Directory.Packages.props" | "Packages.props" => LangType::PackagesProps,
            n if n.ends_with("gradle.lockfile") => LangType::Gradle,
            n if n.ends_with(".deps.json") => LangType::DotNetCore,
            n if n == "pylock.toml" || (n.starts_with("pylock.") && n.ends_with(".toml")) => LangType::PyLock,
            _ => return None,
        })
    }
}

impl fmt::Display for LangType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lockfile found and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangTarget {
    /// Path relative to the scan root, `/`-separated (Trivy's `Target`).
    pub path: String,
    /// Trivy's `Type`.
    pub kind: LangType,
    /// Packages, in Trivy's order (relationship, name, version, ID).
    pub packages: Vec<Package>,
}

/// What is scanned: Trivy's `repo`/`fs` (lockfiles) or `rootfs`/images (installed packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `trivy fs` / `trivy repo`: lockfiles; installed-package metadata is not read.
    #[default]
    Repo,
    /// `trivy rootfs`: installed packages; lockfiles are not read.
    Rootfs,
}

/// Options of [`find`].
#[derive(Debug, Clone, Default)]
pub struct LangOptions {
    /// Repository or root-filesystem semantics.
    pub mode: Mode,
    /// `--skip-files`: glob patterns (`*`, `?`, `**`) of files, relative to the scan root.
    pub skip_files: Vec<String>,
    /// `--skip-dirs`: glob patterns of directories, relative to the scan root.
    pub skip_dirs: Vec<String>,
    /// The scan root as the user wrote it (`testdata/fixtures/repo/pom`); Trivy hashes
    /// `<root as given>/<file>` into pom package IDs. Empty: the root path itself.
    pub root_label: String,
}

/// Go's `filepath.Join` + `Clean` for `/`-separated paths.
fn go_join(base: &str, rel: &str) -> String {
    let joined = if base.is_empty() { rel.to_owned() } else { format!("{base}/{rel}") };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    if absolute {
        format!("/{body}")
    } else if body.is_empty() {
        ".".into()
    } else {
        body
    }
}

/// A parse failure inside one file, before the file is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line, 0 where unknown.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError { line, message: message.into() }
    }
}

impl From<tree::SyntaxError> for ParseError {
    fn from(e: tree::SyntaxError) -> Self {
        ParseError { line: e.line, message: e.message }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 { write!(f, "line {}: {}", self.line, self.message) } else { f.write_str(&self.message) }
    }
}

/// Errors of [`find`] and [`parse_file`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A lockfile is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The path (relative to the scan root where known).
        path: String,
        /// 1-based line, 0 where unknown.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file is larger than [`MAX_FILE_SIZE`].
    #[error("{0}: larger than {MAX_FILE_SIZE} bytes; not read")]
    TooLarge(String),
    /// The walk visited more than [`MAX_WALK_ENTRIES`] entries.
    #[error("more than {MAX_WALK_ENTRIES} directory entries under {0}; walk stopped")]
    TooManyEntries(PathBuf),
}

/// Parses one lockfile's bytes, with no companion files.
///
/// # Errors
/// [`ParseError`] with the line where the input is malformed.
pub fn parse(kind: LangType, file_name: &str, bytes: &[u8]) -> Result<Vec<Package>, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes.get(..e.valid_up_to()).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count() + 1);
        ParseError::new(line, "not valid UTF-8")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let _ = file_name;
    match kind {
        LangType::Npm => node::parse_npm(text),
        LangType::Yarn => node::parse_yarn(text),
        LangType::Pnpm => node::parse_pnpm(text),
        LangType::Bun => node::parse_bun(text),
        LangType::Pip => python::parse_requirements(text),
        LangType::Pipenv => python::parse_pipenv(text),
        LangType::Poetry => python::parse_poetry(text),
        LangType::Uv => python::parse_uv(text),
        LangType::PyLock => python::parse_pylock(text),
        LangType::GoModule => golang::parse_mod(text),
        LangType::Pom => java::parse_pom(text, file_name),
        LangType::Gradle => java::parse_gradle(text),
        LangType::Sbt => java::parse_sbt(text),
        LangType::Conan => misc::parse_conan(text),
        LangType::NuGet => dotnet::parse_nuget_lock(text),
        LangType::DotNetCore => dotnet::parse_deps_json(text),
        LangType::PackagesProps => dotnet::parse_packages_props(text),
        LangType::Swift => misc::parse_swift(text),
        LangType::Cocoapods => misc::parse_podfile_lock(text),
        LangType::Pub => misc::parse_pubspec_lock(text),
        LangType::Hex => misc::parse_mix_lock(text),
        LangType::Composer | LangType::ComposerVendor => misc::parse_composer(text, kind),
        LangType::Cargo => misc::parse_cargo_lock(text),
        LangType::PythonPkg => installed::parse_python_metadata(text).map(|p| vec![p]),
        LangType::NodePkg => installed::parse_package_json(text).map(|p| p.into_iter().collect()),
        LangType::GemSpec => installed::parse_gemspec(text).map(|p| vec![p]),
        LangType::CondaPkg => installed::parse_conda_meta(text).map(|p| vec![p]),
        LangType::Jar | LangType::GoBinary | LangType::RustBinary => {
            Err(ParseError::new(0, format!("{} is read from binary files (see lang::installed)", kind.as_str())))
        }
    }
}

/// Trivy's package ID for `name` and `version` in an ecosystem.
#[must_use]
pub fn package_id(kind: LangType, name: &str, version: &str) -> String {
    if version.is_empty() {
        return name.to_owned();
    }
    match kind {
        LangType::Conan | LangType::DotNetCore => format!("{name}/{version}"),
        LangType::GoModule | LangType::GoBinary => {
            if version.starts_with('v') {
                format!("{name}@{version}")
            } else {
                format!("{name}@v{version}")
            }
        }
        LangType::Pom | LangType::Gradle | LangType::Sbt => format!("{name}:{version}"),
        _ => format!("{name}@{version}"),
    }
}

/// Percent-encodes a package-URL component: everything but `A-Za-z0-9.-_~` (and `/` where
/// allowed).
#[must_use]
pub fn purl_escape(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The package URL Trivy gives a package.
#[must_use]
pub fn purl(kind: LangType, name: &str, version: &str) -> String {
    let ty = kind.purl_type();
    let (namespace, pname): (String, String) = match ty {
        "maven" => match name.split_once(':') {
            Some((g, a)) => (g.to_owned(), a.to_owned()),
            None => (String::new(), name.to_owned()),
        },
        "pypi" => (String::new(), python::pep503(name)),
        "npm" | "composer" | "golang" | "swift" => match name.rsplit_once('/') {
            Some((ns, n)) => (ns.to_owned(), n.to_owned()),
            None => (String::new(), name.to_owned()),
        },
        _ => (String::new(), name.to_owned()),
    };
    let mut out = format!("pkg:{ty}/");
    if !namespace.is_empty() {
        let ns: Vec<String> = namespace.split('/').map(|s| purl_escape(s, false)).collect();
        out.push_str(&ns.join("/"));
        out.push('/');
    }
    out.push_str(&purl_escape(&pname, false));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&purl_escape(version, false));
    }
    out
}

/// Sorts packages the way Trivy's `Packages.Less` does: relationship (unknown last), name,
/// version, ID.
pub fn sort_packages(pkgs: &mut [Package]) {
    pkgs.sort_by(|a, b| {
        let rank = |r: Relationship| if r == Relationship::Unknown { 99 } else { r as u8 };
        rank(a.relationship)
            .cmp(&rank(b.relationship))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Removes development dependencies (Trivy's default without `--include-dev-deps`), and drops
/// them from the dependencies of root and workspace packages.
pub fn exclude_dev(pkgs: &mut Vec<Package>) {
    let dev: HashSet<String> = pkgs.iter().filter(|p| p.dev).map(|p| p.id.clone()).collect();
    pkgs.retain(|p| !p.dev);
    for p in pkgs.iter_mut() {
        if matches!(p.relationship, Relationship::Root | Relationship::Workspace) {
            p.depends_on.retain(|d| !dev.contains(d));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The walk.

/// Matches a `/`-separated path against a glob (`*` and `?` within a segment, `**` any number
/// of segments), as Trivy's skip flags do.
#[must_use]
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    seg_match(&p, &s)
}

/// Segment matching by dynamic programming over (pattern index, path index), so that many `**`
/// cost O(len(pattern) * len(path)) wildcard checks rather than exponential backtracking.
fn seg_match(p: &[&str], s: &[&str]) -> bool {
    // ok[i][j]: p[i..] matches s[j..]
    let width = s.len() + 1;
    let mut ok = vec![false; (p.len() + 1) * width];
    let at = |ok: &[bool], i: usize, j: usize| ok.get(i * width + j).copied().unwrap_or(false);
    if let Some(end) = ok.get_mut(p.len() * width + s.len()) {
        *end = true;
    }
    for (i, pi) in p.iter().enumerate().rev() {
        for j in (0..=s.len()).rev() {
            let v = if *pi == "**" {
                // `**` matches nothing (go on with p[i+1..]) or one more segment
                at(&ok, i + 1, j) || (j < s.len() && at(&ok, i, j + 1))
            } else {
                s.get(j).is_some_and(|sj| at(&ok, i + 1, j + 1) && wild_match(pi.as_bytes(), sj.as_bytes()))
            };
            if let Some(x) = ok.get_mut(i * width + j) {
                *x = v;
            }
        }
    }
    at(&ok, 0, 0)
}

fn wild_match(p: &[u8], s: &[u8]) -> bool {
    // Iterative `*`/`?` matching with one backtrack point.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == s.get(si) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    while p.get(pi) == Some(&b'*') {
        pi += 1;
    }
    pi == p.len()
}

fn normalize_pattern(root: &Path, pat: &str) -> String {
    let pat = pat.replace('\\', "/");
    let root_s = root.to_string_lossy().replace('\\', "/");
    let root_s = root_s.trim_end_matches('/');
    let pat = pat.strip_prefix("./").unwrap_or(&pat);
    match pat.strip_prefix(root_s) {
        Some(rest) if !root_s.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
            rest.trim_start_matches('/').to_owned()
        }
        _ => pat.trim_start_matches('/').to_owned(),
    }
}

pub(crate) fn read_text(path: &Path, rel: &str) -> Result<String, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    if meta.len() > MAX_FILE_SIZE {
        return Err(Error::TooLarge(rel.to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    String::from_utf8(bytes).map_err(|_| Error::Parse {
        path: rel.to_owned(),
        line: 0,
        message: "not valid UTF-8".into(),
    })
}

/// Reads a companion file if present (`None` when absent or unreadable).
pub(crate) fn read_optional(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_SIZE {
        return None;
    }
    std::fs::read_to_string(path).ok().map(|s| s.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(s))
}

/// Walks `root` and parses every lockfile Trivy's analyzers would pick, in Trivy's target
/// order (by path). Targets without packages are left out, as Trivy leaves them out.
///
/// # Errors
/// [`Error`] for an unreadable root or a malformed lockfile (file and line).
pub fn find(root: &Path, opts: &LangOptions) -> Result<Vec<LangTarget>, Error> {
    let skip_files: Vec<String> = opts.skip_files.iter().map(|p| normalize_pattern(root, p)).collect();
    let skip_dirs: Vec<String> = opts.skip_dirs.iter().map(|p| normalize_pattern(root, p)).collect();
    let mut files: Vec<(String, LangType)> = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_owned(), String::new())];
    let mut visited = 0usize;
    while let Some((dir, rel_dir)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
        for entry in rd {
            let entry = entry.map_err(|source| Error::Io { path: dir.clone(), source })?;
            visited += 1;
            if visited > MAX_WALK_ENTRIES {
                return Err(Error::TooManyEntries(root.to_owned()));
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if name == ".git" || skip_dirs.iter().any(|p| glob_match(p, &rel)) {
                    continue;
                }
                stack.push((entry.path(), rel));
            } else if ft.is_file() {
                let Some(kind) = LangType::of_path(&rel) else { continue };
                let enabled = match opts.mode {
                    Mode::Repo => !kind.is_individual(),
                    Mode::Rootfs => !kind.is_lockfile(),
                };
                if !enabled || skip_files.iter().any(|p| glob_match(p, &rel)) {
                    continue;
                }
                files.push((rel, kind));
            }
        }
    }
    files.sort();
    let mut targets = Vec::new();
    for (rel, kind) in files {
        let path = root.join(&rel);
        let text = read_text(&path, &rel)?;
        let file_name = rel.rsplit('/').next().unwrap_or(&rel);
        let pom_path = if kind == LangType::Pom {
            let label = if opts.root_label.is_empty() {
                root.to_string_lossy().replace('\\', "/")
            } else {
                opts.root_label.replace('\\', "/")
            };
            go_join(&label, &rel)
        } else {
            String::new()
        };
        let name_arg = if kind == LangType::Pom { pom_path.as_str() } else { file_name };
        let mut packages = parse(kind, name_arg, text.as_bytes()).map_err(|e| Error::Parse {
            path: rel.clone(),
            line: e.line,
            message: e.message,
        })?;
        let dir = path.parent().unwrap_or(root).to_owned();
        match kind {
            LangType::Npm | LangType::Pnpm => node::fill_licenses(&dir, &mut packages),
            LangType::Yarn => node::yarn_post(&dir, &text, &mut packages),
            LangType::Poetry => python::poetry_post(&dir, &mut packages),
            LangType::Composer => misc::composer_post(&dir, &mut packages),
            LangType::Cargo => misc::cargo_post(&dir, &mut packages),
            LangType::GoModule => golang::gomod_post(&dir, &text, &mut packages),
            _ => {}
        }
        sort_packages(&mut packages);
        if packages.is_empty() {
            continue;
        }
        targets.push(LangTarget { path: rel, kind, packages });
    }
    targets.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(targets)
}

/// Unique by key, keeping the first.
pub(crate) fn dedup_by_id(pkgs: &mut Vec<Package>) {
    let mut seen: HashSet<String> = HashSet::new();
    pkgs.retain(|p| p.id.is_empty() || seen.insert(p.id.clone()));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("submod2/go.mod", "submod2/go.mod"));
        assert!(glob_match("**/go.mod", "a/b/go.mod"));
        assert!(glob_match("*.lock", "yarn.lock"));
        assert!(!glob_match("*.lock", "a/yarn.lock"));
        assert!(glob_match("a/**", "a/b/c"));
        assert!(glob_match("**", ""));
        assert!(glob_match("a/**/b/**/c", "a/b/c"));
        assert!(glob_match("a/**/b/**/c", "a/x/b/y/z/c"));
        assert!(!glob_match("a/**/b/**/c", "a/x/y/z/c"));
        assert!(!glob_match("a/?", "a/bc"));
        // Forty `**` against a forty-segment path that does not match: quadratic, not exponential.
        let many = format!("{}/nope", vec!["**"; 40].join("/"));
        assert!(!glob_match(&many, &vec!["d"; 40].join("/")));
        assert_eq!(normalize_pattern(Path::new("testdata/x"), "testdata/x/sub/go.mod"), "sub/go.mod");
        assert_eq!(go_join("./a/b/", "c/../pom.xml"), "a/b/pom.xml");
        assert_eq!(go_join("/r", "pom.xml"), "/r/pom.xml");
    }

    #[test]
    fn purls() {
        assert_eq!(
            purl(LangType::GoModule, "github.com/docker/distribution", "v2.7.1+incompatible"),
            "pkg:golang/github.com/docker/distribution@v2.7.1%2Bincompatible"
        );
        assert_eq!(purl(LangType::Npm, "@types/bun", "1.2.14"), "pkg:npm/%40types/bun@1.2.14");
        assert_eq!(purl(LangType::Pip, "Werkzeug", "0.11"), "pkg:pypi/werkzeug@0.11");
        assert_eq!(purl(LangType::Pom, "a.b:c", "1"), "pkg:maven/a.b/c@1");
    }

    #[test]
    fn file_selection() {
        assert_eq!(LangType::of_path("a/node_modules/x/package-lock.json"), None);
        assert_eq!(LangType::of_path("x.deps.json"), Some(LangType::DotNetCore));
        assert_eq!(LangType::of_path("sub/gradle.lockfile"), Some(LangType::Gradle));
    }
}
