//! Why `kguard serve` cannot start or (re)load: one typed error for the server's boundary, shown
//! as one line that names the file (and line:column where the file has them), the address or the
//! setting concerned.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;

/// A start or reload failure.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `kguard.yaml` is invalid (file:line:column inside).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The mesh proxy's configuration is invalid (file:line:column inside).
    #[error(transparent)]
    MeshConfig(#[from] kguard_mesh::proxy::ConfigError),
    /// A file named by the configuration cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file named by the configuration reads but is not what it should be.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line:column where known).
        message: String,
    },
    /// Files of the state directory that cannot be read or parsed: the state is not used (at a
    /// reload, the previous state is kept).
    #[error("state {}: {} file(s) could not be read, the state is not used: {}", dir.display(), problems.len(), problems.join("; "))]
    State {
        /// The state directory.
        dir: PathBuf,
        /// One line per problem, `file:line:column: message`.
        problems: Vec<String>,
    },
    /// The seccomp profile directory cannot be read (as a whole: single files that cannot be
    /// read or parsed are judged invalid instead).
    #[error("admission.seccomp.{0}")]
    Seccomp(String),
    /// The AppArmor profile list or source directory cannot be read.
    #[error("admission.apparmor.{0}")]
    AppArmor(String),
    /// The authorization modes cannot be built.
    #[error("authorization: {0}")]
    Authorization(#[from] kguard_authz::ModeError),
    /// An address cannot be bound.
    #[error("{what} {addr}: {source}")]
    Bind {
        /// `listen` or `healthListen`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The cluster connection (`state.cluster`) cannot be set up, or a reload would change it.
    #[error("state.cluster: {0}")]
    Cluster(String),
    /// The audit log cannot be opened or repaired.
    #[error("audit log {}: {message}", path.display())]
    AuditLog {
        /// The log file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The HTTP alert output cannot be set up.
    #[error("audit.alerts.http: {0}")]
    Alerts(String),
    /// A thread or the async runtime cannot be started.
    #[error("{0}")]
    Runtime(String),
}

impl ServeError {
    /// A file read error.
    pub(crate) fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Read { path: path.to_path_buf(), source }
    }

    /// An invalid file.
    pub(crate) fn invalid(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        Self::Invalid { path: path.to_path_buf(), message: message.to_string() }
    }
}
