//! The `k8s_audit` event source: audit events (audit.k8s.io/v1 and v1beta1 `Event`,
//! `EventList`, JSON lines) and every field of Falco's k8saudit plugin (`ka.*`) plus the json
//! plugin's `jevt.*` / `json.*`.
//!
//! Values follow the plugin: a JSON string gives its text, any other JSON value its JSON
//! serialisation (`true`, `8080`, `{…}`); a missing value makes the field unavailable, and
//! every comparison on an unavailable field is false.

use serde_json::Value as Json;

/// The event source name.
pub const SOURCE: &str = "k8s_audit";

/// One audit event.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// The event object.
    pub json: Json,
    /// Event time in nanoseconds since the epoch (`stageTimestamp`, else
    /// `requestReceivedTimestamp`, else `timestamp`, else the reader's default).
    pub time_ns: i64,
}

/// Why a line of input is not an audit event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    /// 1-based line number.
    pub line: usize,
    /// Upstream-style message.
    pub message: String,
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads audit events from text holding a stream of JSON values (JSON lines, concatenated or
/// pretty-printed), each an `Event` or an `EventList`. Like the plugin, reading stops at the
/// first value that is not an audit event: the events before it are returned with the error
/// (`line` counts JSON values, 1-based, as upstream's messages do).
/// `default_time_ns` is used for events without any timestamp.
#[must_use]
pub fn parse_events(text: &str, default_time_ns: i64) -> (Vec<AuditEvent>, Option<EventError>) {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Json>();
    let mut start = 0usize;
    let mut n = 0usize;
    loop {
        let item = stream.next();
        let end = stream.byte_offset();
        let raw = text.get(start..end).unwrap_or("").trim();
        start = end;
        n += 1;
        match item {
            None => return (out, None),
            Some(Err(e)) => {
                let msg = format!("Could not read k8s audit event line #{n}, \"{raw}\": {e}, stopping");
                return (out, Some(EventError { line: n, message: msg }));
            }
            Some(Ok(v)) => {
                if let Some(err) = push_value(v, default_time_ns, &mut out, n) {
                    let msg = format!("Could not read k8s audit event line #{n}, \"{raw}\": {}, stopping", err.message);
                    return (out, Some(EventError { line: n, message: msg }));
                }
            }
        }
    }
}

/// Reads audit events line by line, as a log shipper would: unlike [`parse_events`] (which
/// stops at the first bad value, as the plugin does), a line that is not JSON, or a JSON value
/// that is not an `Event`/`EventList`, becomes an [`EventError`] naming its line and reading goes
/// on with the next line. A line may hold several concatenated values; a value may also span
/// lines (pretty-printed JSON): an incomplete value is kept until it completes, up to
/// [`LineReader::MAX_PENDING_BYTES`]. An incomplete value is parsed again only once its brackets
/// close (or a string is left open), so a value of many lines is read in linear time. Pure: the
/// caller reads the lines.
#[derive(Debug, Default)]
pub struct LineReader {
    pending: String,
    pending_start: usize,
    /// The nesting at the end of `pending`.
    nesting: Nesting,
    line: usize,
    default_time_ns: i64,
}

/// Brackets open outside strings, and whether the text ends inside a string. A JSON value whose
/// brackets are still open cannot be complete: it is not worth parsing again (which would make
/// a value of n lines cost n² to read).
#[derive(Clone, Copy, Debug, Default)]
struct Nesting {
    depth: i64,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    fn scan(mut self, text: &str) -> Self {
        for b in text.bytes() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => self.depth -= 1,
                    _ => {}
                }
            }
        }
        self
    }

    /// Whether the text may be complete, or broken: worth parsing.
    const fn may_end(self) -> bool {
        self.depth <= 0 || self.in_string
    }
}

impl LineReader {
    /// The largest value kept across lines (64 MiB); a larger unfinished value is an error.
    pub const MAX_PENDING_BYTES: usize = 64 << 20;

    /// The longest line a caller should keep (64 MiB, without its newline): a longer one is
    /// skipped unread with [`LineReader::skip_long_line`], so that one line (a gzip bomb expands to
    /// gigabytes without a newline) cannot take all memory.
    pub const MAX_LINE_BYTES: usize = 64 << 20;

    /// A reader; `default_time_ns` is the time of events without a timestamp.
    #[must_use]
    pub fn new(default_time_ns: i64) -> Self {
        Self { default_time_ns, ..Self::default() }
    }

    /// The number of lines fed so far.
    #[must_use]
    pub fn lines(&self) -> usize {
        self.line
    }

    /// Feeds the next line (its newline removed or not): events go to `out`, problems to `errs`.
    pub fn push_line(&mut self, line: &str, out: &mut Vec<AuditEvent>, errs: &mut Vec<EventError>) {
        self.line += 1;
        if self.pending.is_empty() {
            if line.trim().is_empty() {
                return;
            }
            if let Some(rest) = self.parse(line, self.line, out, errs) {
                self.pending.push_str(rest);
                self.pending_start = self.line;
                self.nesting = Nesting::default().scan(rest);
            }
            return;
        }
        self.pending.push('\n');
        self.pending.push_str(line);
        self.nesting = self.nesting.scan(line);
        let start = self.pending_start;
        let too_long = || EventError {
            line: start,
            message: format!(
                "Could not read k8s audit event: a value longer than {} MiB",
                Self::MAX_PENDING_BYTES >> 20
            ),
        };
        if !self.nesting.may_end() {
            if self.pending.len() > Self::MAX_PENDING_BYTES {
                errs.push(too_long());
                self.clear_pending();
            }
            return;
        }
        let text = std::mem::take(&mut self.pending);
        self.nesting = Nesting::default();
        match self.parse(&text, start, out, errs) {
            Some(rest) if rest.len() > Self::MAX_PENDING_BYTES => errs.push(too_long()),
            Some(rest) => {
                let consumed = text.len() - rest.len();
                self.pending_start = start + text.get(..consumed).map_or(0, |p| p.matches('\n').count());
                self.pending = rest.to_owned();
                self.nesting = Nesting::default().scan(rest);
            }
            None => {}
        }
    }

    fn clear_pending(&mut self) {
        self.pending.clear();
        self.nesting = Nesting::default();
    }

    /// Counts a line the caller did not keep because it is longer than [`LineReader::MAX_LINE_BYTES`]
    /// (`len` bytes): an error for that line, and for the value it cut when one was pending.
    /// Reading goes on with the next line.
    pub fn skip_long_line(&mut self, len: u64, errs: &mut Vec<EventError>) {
        self.line += 1;
        if !self.pending.trim().is_empty() {
            errs.push(EventError {
                line: self.pending_start,
                message: "Could not read k8s audit event: the value is cut by an over-long line".to_owned(),
            });
        }
        self.clear_pending();
        errs.push(EventError {
            line: self.line,
            message: format!(
                "Could not read k8s audit event: line of {len} bytes is longer than the limit of {} MiB",
                Self::MAX_LINE_BYTES >> 20
            ),
        });
    }

    /// Ends the input: an unfinished value is an error.
    pub fn finish(&mut self, errs: &mut Vec<EventError>) {
        if !self.pending.trim().is_empty() {
            errs.push(EventError {
                line: self.pending_start,
                message: "Could not read k8s audit event: EOF while parsing a value".to_owned(),
            });
        }
        self.clear_pending();
    }

    /// Parses the values of `text` (whose first line is `first_line`); returns the unfinished
    /// tail when the text ends inside a value.
    fn parse<'t>(
        &self,
        text: &'t str,
        first_line: usize,
        out: &mut Vec<AuditEvent>,
        errs: &mut Vec<EventError>,
    ) -> Option<&'t str> {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Json>();
        let mut start = 0usize;
        loop {
            let item = stream.next();
            let line_of = |off: usize| {
                let ws = text.get(off..).map_or(0, |t| t.len() - t.trim_start().len());
                first_line + text.get(..off + ws).map_or(0, |p| p.matches('\n').count())
            };
            match item {
                None => return None,
                Some(Ok(v)) => {
                    let line = line_of(start);
                    if let Some(e) = push_value(v, self.default_time_ns, out, line) {
                        errs.push(e);
                    }
                    start = stream.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => return text.get(start..),
                Some(Err(e)) => {
                    errs.push(EventError {
                        line: first_line + e.line().saturating_sub(1),
                        message: format!("Could not read k8s audit event: {e}"),
                    });
                    return None;
                }
            }
        }
    }
}

fn push_value(v: Json, default_time_ns: i64, out: &mut Vec<AuditEvent>, line: usize) -> Option<EventError> {
    let bad = || EventError { line, message: "Data not recognized as a k8s audit event".to_owned() };
    match v.get("kind").and_then(Json::as_str) {
        Some("Event") => out.push(AuditEvent::new(v, default_time_ns)),
        Some("EventList") => {
            let Some(items) = v.get("items").and_then(Json::as_array) else { return Some(bad()) };
            for item in items {
                let mut item = item.clone();
                if let Some(obj) = item.as_object_mut() {
                    obj.entry("kind").or_insert_with(|| Json::String("Event".to_owned()));
                }
                out.push(AuditEvent::new(item, default_time_ns));
            }
        }
        _ => return Some(bad()),
    }
    None
}

impl AuditEvent {
    /// Wraps an event object; the time comes from its timestamps or `default_time_ns`.
    #[must_use]
    pub fn new(json: Json, default_time_ns: i64) -> Self {
        let time_ns = ["stageTimestamp", "requestReceivedTimestamp", "timestamp"]
            .iter()
            .find_map(|k| {
                json.get(*k).and_then(Json::as_str).and_then(|t| kguard_model::time::parse_rfc3339_nanos(t).ok())
            })
            .unwrap_or(default_time_ns);
        Self { json, time_ns }
    }
}

/// Which container list of a pod spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerSet {
    /// `spec.containers`
    Containers,
    /// `spec.initContainers`
    Init,
    /// `spec.ephemeralContainers`
    Ephemeral,
}

impl ContainerSet {
    fn key(self) -> &'static str {
        match self {
            Self::Containers => "containers",
            Self::Init => "initContainers",
            Self::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A per-container property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerProp {
    /// `args`
    Args,
    /// `command`
    Command,
    /// `name`
    Name,
    /// `image`
    Image,
    /// repository part of `image`
    ImageRepository,
    /// `ports[].hostPort` (else `containerPort`)
    HostPort,
    /// `securityContext.privileged`
    Privileged,
    /// `securityContext.allowPrivilegeEscalation`
    AllowPrivilegeEscalation,
    /// `securityContext.readOnlyRootFilesystem`
    ReadOnlyFs,
    /// `securityContext.runAsUser`
    RunAsUser,
    /// container, else pod, else 0
    EffRunAsUser,
    /// `securityContext.runAsGroup`
    RunAsGroup,
    /// container, else pod, else 0
    EffRunAsGroup,
    /// `securityContext.procMount`
    ProcMount,
    /// `securityContext.capabilities.add`
    AddCapabilities,
}

/// How a field's value is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extractor {
    /// The value at a path of object keys.
    Keys(&'static [&'static str]),
    /// An annotation.
    Annotation(&'static str),
    /// `ka.uri.param[key]`
    UriParam,
    /// `ka.req.binding.subject.has_name[…]` (deprecated; always `true`, like the plugin)
    BindingHasName,
    /// `ka.target.pod.name`
    TargetPodName,
    /// Subjects of a binding of a kind (`User`, `ServiceAccount`, `Group`), or `ns:name` of service accounts.
    BindingSubjectNames(&'static str),
    /// `ns:name` of service account subjects.
    BindingServiceAccountNsNames,
    /// A per-container property.
    Container(ContainerSet, ContainerProp),
    /// `ka.req.container.image` (first container)
    FirstContainerImage,
    /// `ka.req.container.image.repository`
    FirstContainerRepository,
    /// `ka.req.container.privileged`: `true` when any container is privileged.
    AnyContainerPrivileged,
    /// A property of `requestObject.rules[]`.
    RulesField(&'static str),
    /// `ka.req.service.ports`
    ServicePorts,
    /// `ka.req.volume.hostpath[path]`
    VolumeHostpathArg,
    /// `ka.req.pod.volumes.hostpath`
    VolumesHostpath,
    /// `ka.req.pod.volumes.flexvolume_driver`
    VolumesFlexDriver,
    /// `ka.req.pod.volumes.volume_type`
    VolumesType,
    /// `jevt.value[/pointer]`
    JsonValue,
    /// `jevt.obj`
    JsonObj,
    /// `jevt.rawtime`
    RawTime,
}

/// What a field accepts between brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument.
    None,
    /// An optional index.
    Index,
    /// A required key.
    Key,
}

/// A field of the `k8s_audit` source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// Field name.
    pub name: &'static str,
    /// How it is extracted.
    pub extractor: Extractor,
    /// Whether it yields a list.
    pub is_list: bool,
    /// Its argument.
    pub arg: ArgKind,
    /// Whether the value is numeric (`jevt.rawtime`).
    pub numeric: bool,
}

const CONTAINER_PROPS: &[(&str, ContainerProp)] = &[
    ("args", ContainerProp::Args),
    ("command", ContainerProp::Command),
    ("name", ContainerProp::Name),
    ("image", ContainerProp::Image),
    ("image.repository", ContainerProp::ImageRepository),
    ("host_port", ContainerProp::HostPort),
    ("privileged", ContainerProp::Privileged),
    ("allow_privilege_escalation", ContainerProp::AllowPrivilegeEscalation),
    ("read_only_fs", ContainerProp::ReadOnlyFs),
    ("run_as_user", ContainerProp::RunAsUser),
    ("eff_run_as_user", ContainerProp::EffRunAsUser),
    ("run_as_group", ContainerProp::RunAsGroup),
    ("eff_run_as_group", ContainerProp::EffRunAsGroup),
    ("proc_mount", ContainerProp::ProcMount),
    ("add_capabilities", ContainerProp::AddCapabilities),
];

fn simple(name: &'static str, keys: &'static [&'static str], is_list: bool) -> FieldInfo {
    FieldInfo {
        name,
        extractor: Extractor::Keys(keys),
        is_list,
        arg: if is_list { ArgKind::Index } else { ArgKind::None },
        numeric: false,
    }
}

/// Looks a field up by name (`ka.*`, `jevt.*`, `json.*`).
#[must_use]
pub fn field(name: &str) -> Option<FieldInfo> {
    use Extractor as E;
    let f = |name: &'static str, extractor: Extractor, is_list: bool, arg: ArgKind| FieldInfo {
        name,
        extractor,
        is_list,
        arg,
        numeric: false,
    };
    let info = match name {
        "ka.auditid" => simple("ka.auditid", &["auditID"], false),
        "ka.stage" => simple("ka.stage", &["stage"], false),
        "ka.auth.decision" => {
            f("ka.auth.decision", E::Annotation("authorization.k8s.io/decision"), false, ArgKind::None)
        }
        "ka.auth.reason" => f("ka.auth.reason", E::Annotation("authorization.k8s.io/reason"), false, ArgKind::None),
        "ka.auth.openshift.decision" => {
            f("ka.auth.openshift.decision", E::Annotation("authentication.openshift.io/decision"), false, ArgKind::None)
        }
        "ka.auth.openshift.username" => {
            f("ka.auth.openshift.username", E::Annotation("authentication.openshift.io/username"), false, ArgKind::None)
        }
        "ka.validations.admission.policy.failure" => f(
            "ka.validations.admission.policy.failure",
            E::Annotation("validation.policy.admission.k8s.io/validation_failure"),
            false,
            ArgKind::None,
        ),
        "ka.security.pod.violations" => f(
            "ka.security.pod.violations",
            E::Annotation("pod-security.kubernetes.io/audit-violations"),
            false,
            ArgKind::None,
        ),
        "ka.cluster.name" => f("ka.cluster.name", E::Annotation("cluster_name"), false, ArgKind::None),
        "ka.user.name" => simple("ka.user.name", &["user", "username"], false),
        "ka.user.groups" => FieldInfo { arg: ArgKind::None, ..simple("ka.user.groups", &["user", "groups"], true) },
        "ka.impuser.name" => simple("ka.impuser.name", &["impersonatedUser", "username"], false),
        "ka.verb" => simple("ka.verb", &["verb"], false),
        "ka.uri" => simple("ka.uri", &["requestURI"], false),
        "ka.uri.param" => f("ka.uri.param", E::UriParam, false, ArgKind::Key),
        "ka.target.name" => simple("ka.target.name", &["objectRef", "name"], false),
        "ka.target.namespace" => simple("ka.target.namespace", &["objectRef", "namespace"], false),
        "ka.target.resource" => simple("ka.target.resource", &["objectRef", "resource"], false),
        "ka.target.subresource" => simple("ka.target.subresource", &["objectRef", "subresource"], false),
        "ka.target.pod.name" => f("ka.target.pod.name", E::TargetPodName, false, ArgKind::None),
        "ka.req.binding.subjects" => {
            FieldInfo { arg: ArgKind::None, ..simple("ka.req.binding.subjects", &["requestObject", "subjects"], true) }
        }
        "ka.req.binding.subjects.user_names" => {
            f("ka.req.binding.subjects.user_names", E::BindingSubjectNames("User"), true, ArgKind::None)
        }
        "ka.req.binding.subjects.serviceaccount_names" => f(
            "ka.req.binding.subjects.serviceaccount_names",
            E::BindingSubjectNames("ServiceAccount"),
            true,
            ArgKind::None,
        ),
        "ka.req.binding.subjects.serviceaccount_ns_names" => {
            f("ka.req.binding.subjects.serviceaccount_ns_names", E::BindingServiceAccountNsNames, true, ArgKind::None)
        }
        "ka.req.binding.subjects.group_names" => {
            f("ka.req.binding.subjects.group_names", E::BindingSubjectNames("Group"), true, ArgKind::None)
        }
        "ka.req.binding.role" => simple("ka.req.binding.role", &["requestObject", "roleRef", "name"], false),
        "ka.req.binding.subject.has_name" => {
            f("ka.req.binding.subject.has_name", E::BindingHasName, false, ArgKind::Key)
        }
        "ka.req.configmap.name" => simple("ka.req.configmap.name", &["objectRef", "name"], false),
        "ka.req.configmap.obj" => simple("ka.req.configmap.obj", &["requestObject", "data"], false),
        "ka.req.container.image" => f("ka.req.container.image", E::FirstContainerImage, false, ArgKind::None),
        "ka.req.container.image.repository" => {
            f("ka.req.container.image.repository", E::FirstContainerRepository, false, ArgKind::None)
        }
        "ka.req.container.privileged" => {
            f("ka.req.container.privileged", E::AnyContainerPrivileged, false, ArgKind::None)
        }
        "ka.req.pod.host_ipc" => simple("ka.req.pod.host_ipc", &["requestObject", "spec", "hostIPC"], false),
        "ka.req.pod.host_network" => {
            simple("ka.req.pod.host_network", &["requestObject", "spec", "hostNetwork"], false)
        }
        "ka.req.container.host_network" => {
            simple("ka.req.container.host_network", &["requestObject", "spec", "hostNetwork"], false)
        }
        "ka.req.pod.host_pid" => simple("ka.req.pod.host_pid", &["requestObject", "spec", "hostPID"], false),
        "ka.req.pod.run_as_user" => {
            simple("ka.req.pod.run_as_user", &["requestObject", "spec", "securityContext", "runAsUser"], false)
        }
        "ka.req.pod.run_as_group" => {
            simple("ka.req.pod.run_as_group", &["requestObject", "spec", "securityContext", "runAsGroup"], false)
        }
        "ka.req.pod.fs_group" => {
            simple("ka.req.pod.fs_group", &["requestObject", "spec", "securityContext", "fsGroup"], false)
        }
        "ka.req.pod.supplemental_groups" => FieldInfo {
            arg: ArgKind::None,
            ..simple(
                "ka.req.pod.supplemental_groups",
                &["requestObject", "spec", "securityContext", "supplementalGroups"],
                true,
            )
        },
        "ka.req.role.rules" => {
            FieldInfo { arg: ArgKind::None, ..simple("ka.req.role.rules", &["requestObject", "rules"], true) }
        }
        "ka.req.role.rules.apiGroups" => {
            f("ka.req.role.rules.apiGroups", E::RulesField("apiGroups"), true, ArgKind::Index)
        }
        "ka.req.role.rules.nonResourceURLs" => {
            f("ka.req.role.rules.nonResourceURLs", E::RulesField("nonResourceURLs"), true, ArgKind::Index)
        }
        "ka.req.role.rules.verbs" => f("ka.req.role.rules.verbs", E::RulesField("verbs"), true, ArgKind::Index),
        "ka.req.role.rules.resources" => {
            f("ka.req.role.rules.resources", E::RulesField("resources"), true, ArgKind::Index)
        }
        "ka.req.service.type" => simple("ka.req.service.type", &["requestObject", "spec", "type"], false),
        "ka.req.service.ports" => f("ka.req.service.ports", E::ServicePorts, true, ArgKind::Index),
        "ka.req.volume.hostpath" => f("ka.req.volume.hostpath", E::VolumeHostpathArg, false, ArgKind::Key),
        "ka.req.pod.volumes.hostpath" => f("ka.req.pod.volumes.hostpath", E::VolumesHostpath, true, ArgKind::Index),
        "ka.req.pod.volumes.flexvolume_driver" => {
            f("ka.req.pod.volumes.flexvolume_driver", E::VolumesFlexDriver, true, ArgKind::Index)
        }
        "ka.req.pod.volumes.volume_type" => f("ka.req.pod.volumes.volume_type", E::VolumesType, true, ArgKind::Index),
        "ka.resp.name" => simple("ka.resp.name", &["responseObject", "metadata", "name"], false),
        "ka.response.code" => simple("ka.response.code", &["responseStatus", "code"], false),
        "ka.response.reason" => simple("ka.response.reason", &["responseStatus", "reason"], false),
        "ka.useragent" => simple("ka.useragent", &["userAgent"], false),
        "ka.sourceips" => FieldInfo { arg: ArgKind::None, ..simple("ka.sourceips", &["sourceIPs"], true) },
        "jevt.value" | "json.value" => FieldInfo {
            name: if name.starts_with('j') && name.starts_with("jevt") { "jevt.value" } else { "json.value" },
            extractor: E::JsonValue,
            is_list: false,
            arg: ArgKind::Key,
            numeric: false,
        },
        "jevt.obj" | "json.obj" => FieldInfo {
            name: if name.starts_with("jevt") { "jevt.obj" } else { "json.obj" },
            extractor: E::JsonObj,
            is_list: false,
            arg: ArgKind::None,
            numeric: false,
        },
        "jevt.rawtime" | "json.rawtime" => FieldInfo {
            name: if name.starts_with("jevt") { "jevt.rawtime" } else { "json.rawtime" },
            extractor: E::RawTime,
            is_list: false,
            arg: ArgKind::None,
            numeric: true,
        },
        _ => return container_field(name),
    };
    Some(info)
}

fn container_field(name: &str) -> Option<FieldInfo> {
    let (set, rest, prefix) = if let Some(r) = name.strip_prefix("ka.req.pod.containers.") {
        (ContainerSet::Containers, r, "ka.req.pod.containers.")
    } else if let Some(r) = name.strip_prefix("ka.req.pod.initContainers.") {
        (ContainerSet::Init, r, "ka.req.pod.initContainers.")
    } else if let Some(r) = name.strip_prefix("ka.req.pod.ephemeralContainers.") {
        (ContainerSet::Ephemeral, r, "ka.req.pod.ephemeralContainers.")
    } else {
        return None;
    };
    let (pname, prop) = CONTAINER_PROPS.iter().find(|(n, _)| *n == rest)?;
    if set == ContainerSet::Ephemeral && *prop == ContainerProp::HostPort {
        return None;
    }
    // Field names are 'static: look the full name up in the static table.
    let full = ALL_CONTAINER_FIELDS.iter().find(|f| f.strip_prefix(prefix) == Some(pname))?;
    Some(FieldInfo {
        name: full,
        extractor: Extractor::Container(set, *prop),
        is_list: true,
        arg: ArgKind::Index,
        numeric: false,
    })
}

macro_rules! container_names {
    ($($p:literal),*) => {
        &[
            $(concat!("ka.req.pod.containers.", $p),)*
            $(concat!("ka.req.pod.initContainers.", $p),)*
            $(concat!("ka.req.pod.ephemeralContainers.", $p),)*
        ]
    };
}

const ALL_CONTAINER_FIELDS: &[&str] = container_names!(
    "args",
    "command",
    "name",
    "image",
    "image.repository",
    "host_port",
    "privileged",
    "allow_privilege_escalation",
    "read_only_fs",
    "run_as_user",
    "eff_run_as_user",
    "run_as_group",
    "eff_run_as_group",
    "proc_mount",
    "add_capabilities"
);

/// Every field name of the source (for `--list`-style output and docs).
#[must_use]
pub fn field_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = BASE_FIELDS.to_vec();
    v.extend(ALL_CONTAINER_FIELDS.iter().copied().filter(|n| *n != "ka.req.pod.ephemeralContainers.host_port"));
    v
}

const BASE_FIELDS: &[&str] = &[
    "ka.auditid",
    "ka.stage",
    "ka.auth.decision",
    "ka.auth.reason",
    "ka.auth.openshift.decision",
    "ka.auth.openshift.username",
    "ka.validations.admission.policy.failure",
    "ka.security.pod.violations",
    "ka.cluster.name",
    "ka.user.name",
    "ka.user.groups",
    "ka.impuser.name",
    "ka.verb",
    "ka.uri",
    "ka.uri.param",
    "ka.target.name",
    "ka.target.namespace",
    "ka.target.resource",
    "ka.target.subresource",
    "ka.target.pod.name",
    "ka.req.binding.subjects",
    "ka.req.binding.subjects.user_names",
    "ka.req.binding.subjects.serviceaccount_names",
    "ka.req.binding.subjects.serviceaccount_ns_names",
    "ka.req.binding.subjects.group_names",
    "ka.req.binding.role",
    "ka.req.binding.subject.has_name",
    "ka.req.configmap.name",
    "ka.req.configmap.obj",
    "ka.req.container.image",
    "ka.req.container.image.repository",
    "ka.req.container.privileged",
    "ka.req.pod.host_ipc",
    "ka.req.pod.host_network",
    "ka.req.container.host_network",
    "ka.req.pod.host_pid",
    "ka.req.pod.run_as_user",
    "ka.req.pod.run_as_group",
    "ka.req.pod.fs_group",
    "ka.req.pod.supplemental_groups",
    "ka.req.role.rules",
    "ka.req.role.rules.apiGroups",
    "ka.req.role.rules.nonResourceURLs",
    "ka.req.role.rules.verbs",
    "ka.req.role.rules.resources",
    "ka.req.service.type",
    "ka.req.service.ports",
    "ka.req.volume.hostpath",
    "ka.req.pod.volumes.hostpath",
    "ka.req.pod.volumes.flexvolume_driver",
    "ka.req.pod.volumes.volume_type",
    "ka.resp.name",
    "ka.response.code",
    "ka.response.reason",
    "ka.useragent",
    "ka.sourceips",
    "jevt.value",
    "jevt.obj",
    "jevt.rawtime",
    "json.value",
    "json.obj",
    "json.rawtime",
];

/// The plugin's string form of a JSON value: strings raw, anything else serialised.
#[must_use]
pub fn json_as_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn get_path<'a>(v: &'a Json, keys: &[&str]) -> Option<&'a Json> {
    keys.iter().try_fold(v, |cur, k| cur.get(*k))
}

fn index_filter(arg: Option<&str>) -> Option<usize> {
    arg.and_then(|a| a.parse::<usize>().ok())
}

/// `getArray` with the plugin's index filter: `None` when absent or out of range.
fn array_at<'a>(v: &'a Json, keys: &[&str], arg: Option<&str>) -> Option<Vec<&'a Json>> {
    let arr = get_path(v, keys)?.as_array()?;
    match (arg, index_filter(arg)) {
        (Some(a), None) if a.starts_with('-') => None,
        (_, Some(i)) => arr.get(i).map(|x| vec![x]),
        (_, None) => Some(arr.iter().collect()),
    }
}

fn repository(image: &str) -> String {
    let before_colon = image.split(':').next().unwrap_or(image);
    before_colon.split('@').next().unwrap_or(before_colon).to_owned()
}

/// Extracts a field: `None` when not available, else its values (one for single-value fields).
#[must_use]
pub fn extract(info: &FieldInfo, arg: Option<&str>, ev: &AuditEvent) -> Option<Vec<String>> {
    use Extractor as E;
    let j = &ev.json;
    let one = |v: Option<&Json>| v.map(|v| vec![json_as_string(v)]);
    match &info.extractor {
        E::Keys(keys) => {
            let v = get_path(j, keys)?;
            if info.is_list {
                let arr = v.as_array()?;
                let items: Vec<&Json> = match index_filter(arg) {
                    Some(i) => vec![arr.get(i)?],
                    None => arr.iter().collect(),
                };
                Some(items.into_iter().map(json_as_string).collect())
            } else {
                one(Some(v))
            }
        }
        E::Annotation(key) => one(j.get("annotations").and_then(|a| a.get(*key))),
        E::UriParam => {
            let key = arg?;
            let uri = j.get("requestURI")?.as_str()?;
            let query = uri.split_once('?').map(|(_, q)| q)?;
            let query = query.split('#').next().unwrap_or(query);
            query.split(['&', ';']).find_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k) == key).then(|| vec![percent_decode(v)])
            })
        }
        E::BindingHasName => {
            arg?;
            Some(vec!["true".to_owned()])
        }
        E::TargetPodName => {
            let or = j.get("objectRef")?;
            if or.get("resource").and_then(Json::as_str) != Some("pods") || or.get("subresource").is_some() {
                return None;
            }
            one(get_path(j, &["responseObject", "metadata", "name"]))
        }
        E::BindingSubjectNames(kind) => {
            let subjects = get_path(j, &["requestObject", "subjects"])?.as_array()?;
            Some(
                subjects
                    .iter()
                    .filter(|s| s.get("kind").and_then(Json::as_str) == Some(kind))
                    .filter_map(|s| s.get("name").map(json_as_string))
                    .collect(),
            )
        }
        E::BindingServiceAccountNsNames => {
            let subjects = get_path(j, &["requestObject", "subjects"])?.as_array()?;
            Some(
                subjects
                    .iter()
                    .filter(|s| s.get("kind").and_then(Json::as_str) == Some("ServiceAccount"))
                    .filter_map(|s| {
                        let name = s.get("name").map(json_as_string)?;
                        let ns = s.get("namespace").map(json_as_string).unwrap_or_default();
                        Some(format!("{ns}:{name}"))
                    })
                    .collect(),
            )
        }
        E::Container(set, prop) => container_values(j, *set, *prop, arg),
        E::FirstContainerImage => {
            let c = get_path(j, &["requestObject", "spec", "containers"])?.as_array()?.first()?;
            one(c.get("image"))
        }
        E::FirstContainerRepository => {
            let c = get_path(j, &["requestObject", "spec", "containers"])?.as_array()?.first()?;
            Some(vec![repository(&json_as_string(c.get("image")?))])
        }
        E::AnyContainerPrivileged => {
            let cs = get_path(j, &["requestObject", "spec", "containers"])?.as_array()?;
            let any = cs
                .iter()
                .any(|c| get_path(c, &["securityContext", "privileged"]).and_then(Json::as_bool) == Some(true));
            Some(vec![any.to_string()])
        }
        E::RulesField(key) => {
            let rules = array_at(j, &["requestObject", "rules"], arg)?;
            let mut out = Vec::new();
            for r in rules {
                if let Some(items) = r.get(*key).and_then(Json::as_array) {
                    out.extend(items.iter().filter(|v| !v.is_null()).map(json_as_string));
                }
            }
            Some(out)
        }
        E::ServicePorts => {
            let ports = array_at(j, &["requestObject", "spec", "ports"], arg)?;
            Some(ports.into_iter().map(json_as_string).collect())
        }
        E::VolumeHostpathArg => {
            let key = arg?;
            let vols = array_at(j, &["requestObject", "spec", "volumes"], None)?;
            let paths: Vec<String> =
                vols.iter().filter_map(|v| get_path(v, &["hostPath", "path"]).map(json_as_string)).collect();
            let hit = match key.strip_suffix('*') {
                Some(prefix) => paths.iter().any(|p| p.starts_with(prefix) || p == key),
                None => paths.iter().any(|p| p == key),
            };
            Some(vec![hit.to_string()])
        }
        E::VolumesHostpath => {
            let vols = array_at(j, &["requestObject", "spec", "volumes"], arg)?;
            Some(vols.iter().filter_map(|v| get_path(v, &["hostPath", "path"]).map(json_as_string)).collect())
        }
        E::VolumesFlexDriver => {
            let vols = array_at(j, &["requestObject", "spec", "volumes"], arg)?;
            Some(vols.iter().filter_map(|v| get_path(v, &["flexVolume", "driver"]).map(json_as_string)).collect())
        }
        E::VolumesType => {
            let vols = array_at(j, &["requestObject", "spec", "volumes"], arg)?;
            let mut out = Vec::new();
            for v in vols {
                out.extend(v.as_object()?.keys().filter(|k| *k != "name").cloned());
            }
            Some(out)
        }
        E::JsonValue => {
            let ptr = arg?;
            one(j.pointer(ptr))
        }
        E::JsonObj => one(Some(j)),
        E::RawTime => Some(vec![ev.time_ns.to_string()]),
    }
}

fn container_values(j: &Json, set: ContainerSet, prop: ContainerProp, arg: Option<&str>) -> Option<Vec<String>> {
    use ContainerProp as P;
    let cs = array_at(j, &["requestObject", "spec", set.key()], arg)?;
    let sc = |c: &Json, k: &str| get_path(c, &["securityContext", k]).cloned();
    let mut out = Vec::new();
    for c in cs {
        match prop {
            P::Args | P::Command | P::AddCapabilities => {
                let v = match prop {
                    P::Args => c.get("args"),
                    P::Command => c.get("command"),
                    _ => get_path(c, &["securityContext", "capabilities", "add"]),
                };
                if let Some(arr) = v.and_then(Json::as_array) {
                    out.extend(arr.iter().map(json_as_string));
                }
            }
            P::Name => out.extend(c.get("name").map(json_as_string)),
            P::Image => out.extend(c.get("image").map(json_as_string)),
            P::ImageRepository => out.extend(c.get("image").map(|i| repository(&json_as_string(i)))),
            P::HostPort => {
                if let Some(ports) = c.get("ports").and_then(Json::as_array) {
                    for p in ports {
                        if let Some(v) = p.get("hostPort").or_else(|| p.get("containerPort")) {
                            out.push(json_as_string(v));
                        }
                    }
                }
            }
            P::Privileged => out.extend(sc(c, "privileged").map(|v| json_as_string(&v))),
            P::AllowPrivilegeEscalation => out.extend(sc(c, "allowPrivilegeEscalation").map(|v| json_as_string(&v))),
            P::ReadOnlyFs => out.extend(sc(c, "readOnlyRootFilesystem").map(|v| json_as_string(&v))),
            P::RunAsUser => out.extend(sc(c, "runAsUser").map(|v| json_as_string(&v))),
            P::RunAsGroup => out.extend(sc(c, "runAsGroup").map(|v| json_as_string(&v))),
            P::ProcMount => out.extend(sc(c, "procMount").map(|v| json_as_string(&v))),
            P::EffRunAsUser | P::EffRunAsGroup => {
                let key = if prop == P::EffRunAsUser { "runAsUser" } else { "runAsGroup" };
                let pod = get_path(j, &["requestObject", "spec", "securityContext", key]);
                let v = sc(c, key).map(|v| json_as_string(&v)).or_else(|| pod.map(json_as_string));
                out.push(v.unwrap_or_else(|| "0".to_owned()));
            }
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<AuditEvent>, Vec<EventError>) {
        let mut r = LineReader::new(7);
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        for l in text.lines() {
            r.push_line(l, &mut out, &mut errs);
        }
        r.finish(&mut errs);
        (out, errs)
    }

    #[test]
    fn line_reader_skips_bad_lines_and_names_them() {
        let ev = r#"{"kind":"Event","verb":"get","stageTimestamp":"2024-01-01T00:00:00Z"}"#;
        let text = format!(
            "{ev}\nnot json\n\n{{\"kind\":\"Pod\"}}\n{ev} {ev}\n{{\"kind\":\"EventList\",\"items\":[{ev},{{}}]}}\n"
        );
        let (out, errs) = read(&text);
        assert_eq!(out.len(), 5);
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 4]);
        assert!(errs[0].message.starts_with("Could not read k8s audit event: expected ident"), "{}", errs[0].message);
        assert_eq!(errs[1].message, "Data not recognized as a k8s audit event");
        assert_eq!(out[4].time_ns, 7);
    }

    #[test]
    fn line_reader_joins_pretty_printed_values() {
        let text = "{\n  \"kind\": \"Event\",\n  \"verb\": \"get\"\n}\n{\n  \"kind\": 1\n}\n{\"kind\":\"Event\"}\n{\n \"kind\": \"Event\",\n";
        let (out, errs) = read(text);
        assert_eq!(out.len(), 2);
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), [5, 9]);
        assert!(errs[1].message.contains("EOF"), "{}", errs[1].message);
    }

    #[test]
    fn line_reader_counts_skipped_long_lines_and_the_value_they_cut() {
        let mut r = LineReader::new(7);
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        r.push_line("{\"kind\":\"Event\"}", &mut out, &mut errs);
        r.push_line("{", &mut out, &mut errs);
        r.skip_long_line(70 << 20, &mut errs);
        r.push_line("{\"kind\":\"Event\"}", &mut out, &mut errs);
        r.finish(&mut errs);
        assert_eq!(out.len(), 2);
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
        assert!(errs[0].message.contains("cut by an over-long line"), "{}", errs[0].message);
        assert_eq!(
            errs[1].message,
            "Could not read k8s audit event: line of 73400320 bytes is longer than the limit of 64 MiB"
        );
    }

    #[test]
    fn line_reader_reads_a_value_of_many_lines_in_linear_time() {
        // 200,000 lines in one value: parsing the pending text again at every line read ~200 GB.
        let mut text = String::from("{\"kind\":\"Event\",\"verb\":\"get\",\"x\":[\n");
        for _ in 0..200_000 {
            text.push_str("\"a \\\" ] } [ {\",\n");
        }
        text.push_str("\"end\"]}\n{\"kind\":\"Event\"}\n");
        let t = std::time::Instant::now();
        let (out, errs) = read(&text);
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "{:?}", t.elapsed());
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].json["x"].as_array().map(Vec::len), Some(200_001));
    }

    #[test]
    fn line_reader_reports_syntax_errors_inside_multiline_values() {
        let text = "{\n \"kind\": \"Event\",\n \"verb\": ]\n}\n{\"kind\":\"Event\"}\n";
        let (out, errs) = read(text);
        // the broken value's last line is skipped as its own bad line, then reading recovers
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(out.len(), 1, "{errs:?}");
    }
}
