//! The Dockerfile rules (`DF001`..`DF031`): one `RuleMeta` each, numbered as Trivy's `DS` checks
//! they reproduce (Trivy v0.59.1, trivy-checks v1.6.1), with Trivy's ids (`DS001`, `DS-0001`,
//! `AVD-DS-0001`) and short code as aliases and Trivy's severities. Family: `dockerfile`.

use kguard_report::{RuleMeta, Severity};

const REF_FROM: &str = "https://docs.docker.com/reference/dockerfile/#from";
const REF_USER: &str = "https://docs.docker.com/reference/dockerfile/#user";
const REF_EXPOSE: &str = "https://docs.docker.com/reference/dockerfile/#expose";
const REF_ADD: &str = "https://docs.docker.com/reference/dockerfile/#add";
const REF_COPY: &str = "https://docs.docker.com/reference/dockerfile/#copy";
const REF_ENTRYPOINT: &str = "https://docs.docker.com/reference/dockerfile/#entrypoint";
const REF_CMD: &str = "https://docs.docker.com/reference/dockerfile/#cmd";
const REF_WORKDIR: &str = "https://docs.docker.com/reference/dockerfile/#workdir";
const REF_RUN: &str = "https://docs.docker.com/reference/dockerfile/#run";
const REF_MAINTAINER: &str = "https://docs.docker.com/reference/dockerfile/#maintainer-deprecated";
const REF_HEALTHCHECK: &str = "https://docs.docker.com/reference/dockerfile/#healthcheck";
const REF_ARG: &str = "https://docs.docker.com/reference/dockerfile/#arg";
const BP: &str = "https://docs.docker.com/build/building/best-practices/";
const MULTI: &str = "https://docs.docker.com/build/building/multi-stage/";
const SECRETS: &str = "https://docs.docker.com/build/building/secrets/";

/// `DF001` (Trivy `DS001`): FROM without a pinned tag.
pub const DF001: RuleMeta = RuleMeta {
    id: "DF001",
    name: "latest-tag",
    family: "dockerfile",
    severity: Severity::Medium,
    title: "FROM without a pinned tag",
    what: "A `FROM` image has no tag, or the tag `latest` (`FROM alpine`, `FROM alpine:latest`). Build arguments in the reference are replaced by their `ARG` defaults from the stage and from the file's first stage (unknown ones by nothing, so `FROM $UNSET` is reported for the image `\"\"`); a reference that still ends with a variable is not judged. `scratch`, the name of an earlier stage (`FROM build`) and a reference with two colons (a registry port and a tag) are not reported; a digest counts as a tag. As Trivy v0.59.1 does, the file's first stage (the global `ARG`s, or the first `FROM` stage when there are none) supplies the defaults, and an `ARG` given two different defaults in one stage makes the check report nothing for the file.",
    why: "`latest` moves: the same Dockerfile builds a different image tomorrow, with different packages and vulnerabilities, and a rebuild cannot be reproduced or audited.",
    fix: "Pin the image to a version tag, or better a digest: `FROM alpine:3.20@sha256:...`.",
    references: &[REF_FROM, BP, "https://avd.aquasec.com/misconfig/ds001"],
    aliases: &["DS001", "DS-0001", "AVD-DS-0001", "use-specific-tags"],
    opt_in: false,
};

/// `DF002` (Trivy `DS002`): The image runs as root.
pub const DF002: RuleMeta = RuleMeta {
    id: "DF002",
    name: "root-user",
    family: "dockerfile",
    severity: Severity::High,
    title: "The image runs as root",
    what: "The Dockerfile has no `USER` instruction (reported for the whole file), or the last `USER` of the file, whatever its stage, is `root` or UID `0` (with or without a group: `root:root`, `0:0`). Like Trivy, the last `USER` of the file is judged even when it is in an earlier stage than the final one.",
    why: "A process that runs as root in the container is root on the host's kernel: any escape, writable host mount or kernel bug becomes a compromise of the node.",
    fix: "Create an unprivileged user and end with `USER app` (or a numeric UID, `USER 10001`).",
    references: &[REF_USER, BP, "https://avd.aquasec.com/misconfig/ds002"],
    aliases: &["DS002", "DS-0002", "AVD-DS-0002", "least-privilege-user"],
    opt_in: false,
};

/// `DF004` (Trivy `DS004`): Port 22 exposed.
pub const DF004: RuleMeta = RuleMeta {
    id: "DF004",
    name: "ssh-port",
    family: "dockerfile",
    severity: Severity::Medium,
    title: "Port 22 exposed",
    what: "An `EXPOSE` instruction lists `22`, `22/tcp` or `22/udp`.",
    why: "An SSH server in a container is an extra way in, with its own credentials to leak; containers are entered with `docker exec` or `kubectl exec`.",
    fix: "Remove the SSH server and `EXPOSE 22`; use `docker exec` / `kubectl exec` to get a shell.",
    references: &[REF_EXPOSE, "https://avd.aquasec.com/misconfig/ds004"],
    aliases: &["DS004", "DS-0004", "AVD-DS-0004", "no-ssh-port"],
    opt_in: false,
};

/// `DF005` (Trivy `DS005`): ADD used to copy files.
pub const DF005: RuleMeta = RuleMeta {
    id: "DF005",
    name: "add-instead-of-copy",
    family: "dockerfile",
    severity: Severity::Low,
    title: "ADD used to copy files",
    what: "An `ADD` whose arguments (joined with spaces) contain none of `.tar`, `http://`, `https://`, `git@`, and that is not the `file:<hash> in <dest>` form of image histories.",
    why: "`ADD` also fetches URLs and unpacks archives; used for a plain copy it hides what the instruction really does and may unpack what was meant to be copied.",
    fix: "Use `COPY` for local files; keep `ADD` for archives to unpack and remote sources (with `--checksum`).",
    references: &[REF_ADD, BP, "https://avd.aquasec.com/misconfig/ds005"],
    aliases: &["DS005", "DS-0005", "AVD-DS-0005", "use-copy-over-add"],
    opt_in: false,
};

/// `DF006` (Trivy `DS006`): COPY --from names the stage being built.
pub const DF006: RuleMeta = RuleMeta {
    id: "DF006",
    name: "copy-from-own-stage",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "COPY --from names the stage being built",
    what: "A `COPY --from=NAME` where NAME (case-insensitive) is the alias of the stage the `COPY` is in (`FROM image AS NAME`).",
    why: "A stage cannot copy from itself: the build fails, or, with a same-named image in a registry, copies from something else.",
    fix: "Name the stage (or image) that holds the files.",
    references: &[REF_COPY, MULTI, "https://avd.aquasec.com/misconfig/ds006"],
    aliases: &["DS006", "DS-0006", "AVD-DS-0006", "no-self-referencing-copy-from"],
    opt_in: false,
};

/// `DF007` (Trivy `DS007`): Several ENTRYPOINT instructions in one stage.
pub const DF007: RuleMeta = RuleMeta {
    id: "DF007",
    name: "multiple-entrypoint",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "Several ENTRYPOINT instructions in one stage",
    what: "A stage has more than one `ENTRYPOINT`; reported at the second one.",
    why: "Only the last `ENTRYPOINT` of a stage takes effect; the others are dead code that misleads readers and reviewers.",
    fix: "Keep one `ENTRYPOINT` per stage.",
    references: &[REF_ENTRYPOINT, "https://avd.aquasec.com/misconfig/ds007"],
    aliases: &["DS007", "DS-0007", "AVD-DS-0007", "only-one-entrypoint"],
    opt_in: false,
};

/// `DF008` (Trivy `DS008`): EXPOSE port above 65535.
pub const DF008: RuleMeta = RuleMeta {
    id: "DF008",
    name: "port-out-of-range",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "EXPOSE port above 65535",
    what: "An `EXPOSE` value whose port (before any `/protocol`) reads as a number greater than 65535. Values that are not numbers (`$PORT`, ranges `8000-8010`) are not judged.",
    why: "Such a port cannot exist; the instruction is a typo that hides which port the service really uses.",
    fix: "Expose the real port (0-65535).",
    references: &[REF_EXPOSE, "https://avd.aquasec.com/misconfig/ds008"],
    aliases: &["DS008", "DS-0008", "AVD-DS-0008", "port-out-of-range"],
    opt_in: false,
};

/// `DF009` (Trivy `DS009`): WORKDIR path not absolute.
pub const DF009: RuleMeta = RuleMeta {
    id: "DF009",
    name: "relative-workdir",
    family: "dockerfile",
    severity: Severity::High,
    title: "WORKDIR path not absolute",
    what: "A `WORKDIR` whose argument does not start with `/` (after an optional quote) and contains neither a Windows drive path (`C:\\\\`) nor a variable (`$X`, `${X}`) anywhere (Trivy's pattern, kept as is).",
    why: "A relative `WORKDIR` depends on the directory set before it, possibly in the base image; the files end up somewhere a reader does not expect.",
    fix: "Use an absolute path: `WORKDIR /app`.",
    references: &[REF_WORKDIR, BP, "https://avd.aquasec.com/misconfig/ds009"],
    aliases: &["DS009", "DS-0009", "AVD-DS-0009", "user-absolute-workdir"],
    opt_in: false,
};

/// `DF010` (Trivy `DS010`): RUN uses sudo.
pub const DF010: RuleMeta = RuleMeta {
    id: "DF010",
    name: "sudo",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "RUN uses sudo",
    what: "A shell-form `RUN` with a command (split at `&&`) that starts with `sudo` (a word that starts so, such as `sudoers`, counts too). The exec form is not judged.",
    why: "`sudo` in a build means the image ships sudo and a user allowed to use it, or the build runs as a user that needs it: either way privilege escalation is designed in, and sudo's TTY and signal handling misbehave in containers.",
    fix: "Run the privileged steps before `USER`, as root, without sudo; use `gosu`/`su-exec` to drop privileges at run time if needed.",
    references: &[REF_RUN, BP, "https://avd.aquasec.com/misconfig/ds010"],
    aliases: &["DS010", "DS-0010", "AVD-DS-0010", "no-sudo-run"],
    opt_in: false,
};

/// `DF011` (Trivy `DS011`): COPY of several sources to a destination without a trailing /.
pub const DF011: RuleMeta = RuleMeta {
    id: "DF011",
    name: "copy-multiple-sources-no-slash",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "COPY of several sources to a destination without a trailing /",
    what: "A `COPY` with more than two arguments (flags aside) whose last argument, the destination, does not end with `/` (the `file:<hash> in <dest>` history form aside).",
    why: "With several sources the destination must be a directory ending with `/`; the build fails otherwise.",
    fix: "End the destination with `/`: `COPY a b /app/`.",
    references: &[REF_COPY, "https://avd.aquasec.com/misconfig/ds011"],
    aliases: &["DS011", "DS-0011", "AVD-DS-0011", "use-slash-for-copy-args"],
    opt_in: false,
};

/// `DF012` (Trivy `DS012`): Two stages with the same name.
pub const DF012: RuleMeta = RuleMeta {
    id: "DF012",
    name: "duplicate-stage-name",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "Two stages with the same name",
    what: "Two `FROM ... AS NAME` lines (compared in lower case, written with spaces around `as`) give the same name to different images; reported at the first. Two identical `FROM` lines are not reported (as in Trivy).",
    why: "`COPY --from=NAME` and `--target NAME` then refer to one of them silently.",
    fix: "Give each stage its own name.",
    references: &[REF_FROM, MULTI, "https://avd.aquasec.com/misconfig/ds012"],
    aliases: &["DS012", "DS-0012", "AVD-DS-0012", "no-duplicate-alias"],
    opt_in: false,
};

/// `DF013` (Trivy `DS013`): RUN cd to change directory.
pub const DF013: RuleMeta = RuleMeta {
    id: "DF013",
    name: "run-cd",
    family: "dockerfile",
    severity: Severity::Medium,
    title: "RUN cd to change directory",
    what: "A `RUN` argument with a command (split at `&&`) that starts with `cd `.",
    why: "A `cd` lasts for one `RUN`; the next instruction starts back in the `WORKDIR`, which readers and later edits get wrong.",
    fix: "Use `WORKDIR /path` (or `cd` and the command in one subshell you do not rely on later).",
    references: &[REF_WORKDIR, BP, "https://avd.aquasec.com/misconfig/ds013"],
    aliases: &["DS013", "DS-0013", "AVD-DS-0013", "use-workdir-over-cd"],
    opt_in: false,
};

/// `DF014` (Trivy `DS014`): Both wget and curl used.
pub const DF014: RuleMeta = RuleMeta {
    id: "DF014",
    name: "wget-and-curl",
    family: "dockerfile",
    severity: Severity::Low,
    title: "Both wget and curl used",
    what: "A shell-form `RUN` runs `wget` (a command, split at `&&`, starting with `wget` and not containing `install `) while some `RUN` runs `curl` the same way (or in exec form, `[\"curl\", ...]`); reported at each such wget `RUN`. An exec-form wget is not reported (as in Trivy).",
    why: "Two download tools where one does: more packages, more attack surface, two sets of TLS and redirect behaviours to reason about.",
    fix: "Standardise on one of them.",
    references: &[REF_RUN, "https://avd.aquasec.com/misconfig/ds014"],
    aliases: &["DS014", "DS-0014", "AVD-DS-0014", "standardise-remote-get"],
    opt_in: false,
};

/// `DF015` (Trivy `DS015`): yum install without yum clean all.
pub const DF015: RuleMeta = RuleMeta {
    id: "DF015",
    name: "yum-clean",
    family: "dockerfile",
    severity: Severity::High,
    title: "yum install without yum clean all",
    what: "A `RUN` whose shell commands (Trivy's reading of the command line) include one with `yum` before `install`, and no command with the word `all` after the last such install.",
    why: "The package cache stays in the layer: a bigger image, and stale metadata that later layers may trust.",
    fix: "End the same `RUN` with `yum clean all` (and `rm -rf /var/cache/yum`).",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds015"],
    aliases: &["DS015", "DS-0015", "AVD-DS-0015", "purge-yum-package-cache"],
    opt_in: false,
};

/// `DF016` (Trivy `DS016`): Several CMD instructions in one stage.
pub const DF016: RuleMeta = RuleMeta {
    id: "DF016",
    name: "multiple-cmd",
    family: "dockerfile",
    severity: Severity::High,
    title: "Several CMD instructions in one stage",
    what: "A stage has more than one `CMD`; reported at the second one.",
    why: "Only the last `CMD` of a stage takes effect; the others mislead.",
    fix: "Keep one `CMD` per stage.",
    references: &[REF_CMD, "https://avd.aquasec.com/misconfig/ds016"],
    aliases: &["DS016", "DS-0016", "AVD-DS-0016", "only-one-cmd"],
    opt_in: false,
};

/// `DF017` (Trivy `DS017`): Package index update without an install in the same RUN.
pub const DF017: RuleMeta = RuleMeta {
    id: "DF017",
    name: "update-alone",
    family: "dockerfile",
    severity: Severity::High,
    title: "Package index update without an install in the same RUN",
    what: "A `RUN` has a command with a package manager (`apt-get`/`apt`, `yum`, `apk`, `dnf`, `zypper`) before `update` or `up`, and no later command of that package manager with `install`, `upgrade`, `add`, `reinstall`, `source-install`, `groupinstall` or `localinstall`.",
    why: "The updated index is cached in its own layer: a later `RUN ... install` reuses the stale layer and installs outdated packages.",
    fix: "Update and install in one `RUN`: `apt-get update && apt-get install -y ...`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds017"],
    aliases: &["DS017", "DS-0017", "AVD-DS-0017", "no-orphan-package-update"],
    opt_in: false,
};

/// `DF019` (Trivy `DS019`): dnf install without dnf clean all.
pub const DF019: RuleMeta = RuleMeta {
    id: "DF019",
    name: "dnf-clean",
    family: "dockerfile",
    severity: Severity::High,
    title: "dnf install without dnf clean all",
    what: "A `RUN` whose first argument matches `dnf install`/`in`/`reinstall`/`rei`/`install-n`/`install-na`/`install-nevra` (anywhere, so `microdnf install` too) and in which the last of those and `dnf clean all` is not `dnf clean all`.",
    why: "The package cache stays in the layer: a bigger image and stale metadata.",
    fix: "End the same `RUN` with `dnf clean all`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds019"],
    aliases: &["DS019", "DS-0019", "AVD-DS-0019", "purge-dnf-package-cache"],
    opt_in: false,
};

/// `DF020` (Trivy `DS020`): zypper install without zypper clean.
pub const DF020: RuleMeta = RuleMeta {
    id: "DF020",
    name: "zypper-clean",
    family: "dockerfile",
    severity: Severity::High,
    title: "zypper install without zypper clean",
    what: "A `RUN` whose first argument matches `zypper in`/`remove`/`rm`/`source-install`/`si`/`patch`/`install` (flags allowed before `install`) and in which the last of those, `zypper clean` and `zypper cc` is not a clean.",
    why: "The package cache stays in the layer: a bigger image and stale metadata.",
    fix: "End the same `RUN` with `zypper clean`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds020"],
    aliases: &["DS020", "DS-0020", "AVD-DS-0020", "purge-zipper-cache"],
    opt_in: false,
};

/// `DF021` (Trivy `DS021`): apt-get install without -y.
pub const DF021: RuleMeta = RuleMeta {
    id: "DF021",
    name: "apt-get-without-yes",
    family: "dockerfile",
    severity: Severity::High,
    title: "apt-get install without -y",
    what: "A `RUN` whose arguments (joined with spaces) contain `apt-get [flags] install` without `-y`, `--yes`, `--assume-yes` or a short-flag group with `y` before `install`, right after it or after the package names (Trivy's patterns).",
    why: "Without `-y` the build waits for an answer it never gets, or fails; with a default `no`, packages are silently not installed.",
    fix: "Use `apt-get install -y ...`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds021"],
    aliases: &["DS021", "DS-0021", "AVD-DS-0021", "use-apt-auto-confirm"],
    opt_in: false,
};

/// `DF022` (Trivy `DS022`): MAINTAINER used.
pub const DF022: RuleMeta = RuleMeta {
    id: "DF022",
    name: "maintainer",
    family: "dockerfile",
    severity: Severity::High,
    title: "MAINTAINER used",
    what: "A `MAINTAINER` instruction (deprecated).",
    why: "`MAINTAINER` is deprecated; the metadata belongs in a label that tools read.",
    fix: "Use `LABEL org.opencontainers.image.authors=\"...\"`.",
    references: &[REF_MAINTAINER, "https://avd.aquasec.com/misconfig/ds022"],
    aliases: &["DS022", "DS-0022", "AVD-DS-0022", "no-maintainer"],
    opt_in: false,
};

/// `DF023` (Trivy `DS023`): Several HEALTHCHECK instructions in one stage.
pub const DF023: RuleMeta = RuleMeta {
    id: "DF023",
    name: "multiple-healthcheck",
    family: "dockerfile",
    severity: Severity::Medium,
    title: "Several HEALTHCHECK instructions in one stage",
    what: "A stage has more than one `HEALTHCHECK` (`NONE` included); reported at the second one.",
    why: "Only the last one takes effect.",
    fix: "Keep one `HEALTHCHECK` per stage.",
    references: &[REF_HEALTHCHECK, "https://avd.aquasec.com/misconfig/ds023"],
    aliases: &["DS023", "DS-0023", "AVD-DS-0023", "only-one-healthcheck"],
    opt_in: false,
};

/// `DF024` (Trivy `DS024`): apt-get dist-upgrade used.
pub const DF024: RuleMeta = RuleMeta {
    id: "DF024",
    name: "dist-upgrade",
    family: "dockerfile",
    severity: Severity::High,
    title: "apt-get dist-upgrade used",
    what: "A `RUN` whose first argument matches `apt-get .* dist-upgrade`.",
    why: "`dist-upgrade` may change the base image's release and remove packages: the image no longer is what its `FROM` says.",
    fix: "Use a newer base image, or `apt-get upgrade` of named packages.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds024"],
    aliases: &["DS024", "DS-0024", "AVD-DS-0024", "no-dist-upgrade"],
    opt_in: false,
};

/// `DF025` (Trivy `DS025`): apk add without --no-cache.
pub const DF025: RuleMeta = RuleMeta {
    id: "DF025",
    name: "apk-without-no-cache",
    family: "dockerfile",
    severity: Severity::High,
    title: "apk add without --no-cache",
    what: "A `RUN` with a shell command whose first word is `apk`, whose second word that is not a flag is `add`, and without the word `--no-cache`.",
    why: "The package index stays in the layer: a bigger image with stale metadata.",
    fix: "Use `apk add --no-cache ...`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds025"],
    aliases: &["DS025", "DS-0025", "AVD-DS-0025", "purge-apk-package-cache"],
    opt_in: false,
};

/// `DF026` (Trivy `DS026`): No HEALTHCHECK.
pub const DF026: RuleMeta = RuleMeta {
    id: "DF026",
    name: "no-healthcheck",
    family: "dockerfile",
    severity: Severity::Low,
    title: "No HEALTHCHECK",
    what: "The Dockerfile has no `HEALTHCHECK` instruction in any stage (`HEALTHCHECK NONE` counts as one); reported for the whole file.",
    why: "Without a health check the runtime cannot tell a hung process from a working one (Kubernetes uses its own probes instead).",
    fix: "Add `HEALTHCHECK CMD ...`, or `HEALTHCHECK NONE` to say it is deliberate.",
    references: &[REF_HEALTHCHECK, "https://avd.aquasec.com/misconfig/ds026"],
    aliases: &["DS026", "DS-0026", "AVD-DS-0026", "no-healthcheck"],
    opt_in: false,
};

/// `DF027` (Trivy `DS027`): microdnf install without microdnf clean all.
pub const DF027: RuleMeta = RuleMeta {
    id: "DF027",
    name: "microdnf-clean",
    family: "dockerfile",
    severity: Severity::High,
    title: "microdnf install without microdnf clean all",
    what: "A `RUN` whose first argument matches `microdnf install` or `microdnf reinstall` and in which the last of those and `microdnf clean all` is not `microdnf clean all`.",
    why: "The package cache stays in the layer: a bigger image and stale metadata.",
    fix: "End the same `RUN` with `microdnf clean all`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds027"],
    aliases: &["DS027", "DS-0027", "AVD-DS-0027", "purge-microdnf-package-cache"],
    opt_in: false,
};

/// `DF029` (Trivy `DS029`): apt-get install without --no-install-recommends.
pub const DF029: RuleMeta = RuleMeta {
    id: "DF029",
    name: "apt-get-without-no-install-recommends",
    family: "dockerfile",
    severity: Severity::High,
    title: "apt-get install without --no-install-recommends",
    what: "A `RUN` whose arguments (joined with spaces) contain `apt-get [flags] install` without `--no-install-recommends` before `install`, right after it or after the package names.",
    why: "Recommended packages add software nobody asked for: more size and more vulnerabilities.",
    fix: "Use `apt-get install -y --no-install-recommends ...`.",
    references: &[BP, "https://avd.aquasec.com/misconfig/ds029"],
    aliases: &["DS029", "DS-0029", "AVD-DS-0029", "use-apt-no-install-recommends"],
    opt_in: false,
};

/// `DF030` (Trivy `DS030`): WORKDIR in a system directory.
pub const DF030: RuleMeta = RuleMeta {
    id: "DF030",
    name: "workdir-system-directory",
    family: "dockerfile",
    severity: Severity::High,
    title: "WORKDIR in a system directory",
    what: "A `WORKDIR` (quotes removed) that starts with `/proc/`, `/boot/`, `/dev/`, `/initrd/` or `/lost+found/`.",
    why: "Writing under kernel and boot directories breaks the container or, with host mounts, the host.",
    fix: "Use an application directory such as `/app`.",
    references: &[REF_WORKDIR, "https://avd.aquasec.com/misconfig/ds030"],
    aliases: &["DS030", "DS-0030", "AVD-DS-0030", "avoid-sys-workdir-mounts"],
    opt_in: false,
};

/// `DF031` (Trivy `DS031`): Secret passed to the build.
pub const DF031: RuleMeta = RuleMeta {
    id: "DF031",
    name: "secrets",
    family: "dockerfile",
    severity: Severity::Critical,
    title: "Secret passed to the build",
    what: "In the last stage: an `ARG` or `ENV` named as a well-known credential (`AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`, `OPENAI_API_KEY`, ... with `VITE_`/`REACT_APP_` prefixes) or whose name has a `_`-separated word among `apikey`, `auth`, `credential(s)`, `key`, `password`, `passwd`, `pword`, `psw`, `secret`, `token`, `usr` (and not `public`); an `ARG`/`ENV` `AWS_CONFIG_FILE`, `HF_TOKEN_PATH` or `GOOGLE_APPLICATION_CREDENTIALS` pointing under a `COPY` destination; a `COPY` to `$` one of those; a `RUN` that configures cloud credentials (`aws configure set aws_access_key_id`, `gcloud auth activate-service-account`, `az login -p`, `doctl auth init -t`) without a `--mount=type=secret`. Values are never shown.",
    why: "Build arguments and environment variables are stored in the image's history and configuration: anyone who pulls the image reads them.",
    fix: "Pass secrets with BuildKit secret mounts (`RUN --mount=type=secret,id=...`) and provide runtime credentials from the orchestrator.",
    references: &[SECRETS, REF_ARG, "https://avd.aquasec.com/misconfig/ds031"],
    aliases: &["DS031", "DS-0031", "AVD-DS-0031", "do-not-pass-secrets"],
    opt_in: false,
};

/// Every Dockerfile rule, in id order.
pub const RULES: &[RuleMeta] = &[
    DF001, DF002, DF004, DF005, DF006, DF007, DF008, DF009, DF010, DF011, DF012, DF013, DF014, DF015, DF016, DF017,
    DF019, DF020, DF021, DF022, DF023, DF024, DF025, DF026, DF027, DF029, DF030, DF031,
];
