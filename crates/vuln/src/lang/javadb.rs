//! Trivy's Java DB (`trivy-java.db`, the SQLite index of Maven Central that `trivy-java-db`
//! builds): what identifies a Java archive without `pom.properties`. Read-only and offline: the
//! file is given (`kguard fs|image --java-db FILE`), never downloaded.
//!
//! Schema (trivy-java-db, schema version 1): `artifacts(id, group_id, artifact_id)` and
//! `indices(artifact_id → artifacts.id, version, sha1 BLOB, archive_type)`. Trivy's three
//! lookups, as its jar parser uses them:
//! * [`JavaDb::exists`]: is `group:artifact` a Maven Central artifact (a MANIFEST.MF's guess is
//!   kept only then);
//! * [`JavaDb::by_sha1`]: the artifact whose file has this SHA-1;
//! * [`JavaDb::group_of`]: the group of an artifact id and version taken from the file name, the
//!   one with most `jar` files of that artifact and version (ties: the first in name order; Trivy
//!   leaves ties to Go's map order).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// An opened Java DB.
#[derive(Debug)]
pub struct JavaDb {
    conn: Mutex<Connection>,
    path: String,
}

/// A Maven artifact's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gav {
    /// Group id.
    pub group: String,
    /// Artifact id.
    pub artifact: String,
    /// Version.
    pub version: String,
}

impl JavaDb {
    /// Opens `path` read-only and checks it has the Java DB's tables.
    ///
    /// # Errors
    /// The file cannot be opened as SQLite, or lacks `artifacts`/`indices` with their columns.
    pub fn open(path: &Path) -> Result<Self, String> {
        let name = path.display().to_string();
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| format!("{name}: {e}"))?;
        // the queries below, on an empty key: they fail on another schema
        conn.query_row(
            "SELECT a.group_id, a.artifact_id, i.version, i.archive_type FROM indices i \
             JOIN artifacts a ON a.id = i.artifact_id WHERE i.sha1 = x'00' LIMIT 1",
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(|e| format!("{name}: not a Trivy Java DB (tables artifacts and indices): {e}"))?;
        Ok(JavaDb { conn: Mutex::new(conn), path: name })
    }

    /// The file it was opened from.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let conn = self.conn.lock().ok()?;
        f(&conn).ok()
    }

    /// Whether Maven Central has `group:artifact` (any version).
    #[must_use]
    pub fn exists(&self, group: &str, artifact: &str) -> bool {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM indices i JOIN artifacts a ON a.id = i.artifact_id \
                 WHERE a.artifact_id = ?1 AND a.group_id = ?2 LIMIT 1",
                (artifact, group),
                |_| Ok(()),
            )
            .optional()
        })
        .flatten()
        .is_some()
    }

    /// The artifact whose file has SHA-1 `sha1`.
    #[must_use]
    pub fn by_sha1(&self, sha1: &[u8]) -> Option<Gav> {
        self.with(|c| {
            c.query_row(
                "SELECT a.group_id, a.artifact_id, i.version FROM indices i \
                 JOIN artifacts a ON a.id = i.artifact_id WHERE i.sha1 = ?1",
                [sha1],
                |r| Ok(Gav { group: r.get(0)?, artifact: r.get(1)?, version: r.get(2)? }),
            )
            .optional()
        })
        .flatten()
        .filter(|g| !g.artifact.is_empty())
    }

    /// The group of `artifact` at `version` among its `jar` files: the group with most of them
    /// (ties: the first by name).
    #[must_use]
    pub fn group_of(&self, artifact: &str, version: &str) -> Option<String> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT a.group_id, COUNT(*) FROM indices i JOIN artifacts a ON a.id = i.artifact_id \
                 WHERE a.artifact_id = ?1 AND i.version = ?2 AND i.archive_type = 'jar' \
                 GROUP BY a.group_id ORDER BY COUNT(*) DESC, a.group_id ASC LIMIT 1",
            )?;
            st.query_row((artifact, version), |r| r.get::<_, String>(0)).optional()
        })
        .flatten()
    }
}

/// Writes a Java DB with Trivy's schema holding `rows` (group, artifact, version, SHA-1, archive
/// type), and its `metadata.json` beside it, for tests and the comparison with Trivy (which
/// reads `<cache>/java-db/trivy-java.db`).
///
/// # Errors
/// The file cannot be written.
pub fn write_fixture(path: &Path, rows: &[(&str, &str, &str, [u8; 20], &str)]) -> Result<(), String> {
    let name = path.display().to_string();
    let _ = std::fs::remove_file(path);
    let conn = Connection::open(path).map_err(|e| format!("{name}: {e}"))?;
    let e = |e: rusqlite::Error| format!("{name}: {e}");
    conn.execute_batch(
        "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
         CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT, foreign key (artifact_id) references artifacts(id));
         CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
         CREATE INDEX indices_artifact_idx ON indices(artifact_id);
         CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);",
    )
    .map_err(e)?;
    for (g, a, v, sha1, kind) in rows {
        conn.execute("INSERT OR IGNORE INTO artifacts(group_id, artifact_id) VALUES (?1, ?2)", (g, a)).map_err(e)?;
        conn.execute(
            "INSERT INTO indices(artifact_id, version, sha1, archive_type) \
             VALUES ((SELECT id FROM artifacts WHERE group_id = ?1 AND artifact_id = ?2), ?3, ?4, ?5) \
             ON CONFLICT(sha1) DO NOTHING",
            (g, a, v, &sha1[..], kind),
        )
        .map_err(e)?;
    }
    let meta = path.with_file_name("metadata.json");
    std::fs::write(&meta, r#"{"Version":1,"NextUpdate":"2999-01-01T00:00:00Z","UpdatedAt":"2024-01-01T00:00:00Z","DownloadedAt":"2999-01-01T00:00:00Z"}"#)
        .map_err(|err| format!("{}: {err}", meta.display()))?;
    Ok(())
}

/// The SHA-1 of `bytes` (what the Java DB indexes files by).
#[must_use]
pub fn sha1(bytes: &[u8]) -> [u8; 20] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref().get(..20).unwrap_or(&[0; 20]));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_three_lookups_as_trivy_makes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trivy-java.db");
        let s = |t: &str| sha1(t.as_bytes());
        write_fixture(
            &path,
            &[
                ("javax.servlet", "jstl", "1.2", s("a"), "jar"),
                ("javax.servlet", "jstl", "1.2", s("b"), "jar"),
                ("jstl", "jstl", "1.2", s("c"), "jar"),
                ("org.example", "jstl", "1.2", s("d"), "pom"),
                ("org.example", "jstl", "1.2", s("e"), "pom"),
                ("org.example", "jstl", "1.2", s("f"), "pom"),
                ("b.group", "tie", "1.0", s("g"), "jar"),
                ("a.group", "tie", "1.0", s("h"), "jar"),
            ],
        )
        .unwrap();
        let db = JavaDb::open(&path).unwrap();
        assert!(db.exists("jstl", "jstl") && !db.exists("jstl", "nope"));
        assert_eq!(
            db.by_sha1(&s("c")),
            Some(Gav { group: "jstl".into(), artifact: "jstl".into(), version: "1.2".into() })
        );
        assert_eq!(db.by_sha1(&s("zz")), None);
        // the group with most jar files (pom files do not count); ties: the first by name
        assert_eq!(db.group_of("jstl", "1.2").as_deref(), Some("javax.servlet"));
        assert_eq!(db.group_of("tie", "1.0").as_deref(), Some("a.group"));
        assert_eq!(db.group_of("jstl", "9.9"), None);
        // not a Java DB
        let other = dir.path().join("other.db");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t(x);").unwrap();
        assert!(JavaDb::open(&other).unwrap_err().contains("not a Trivy Java DB"));
        std::fs::write(dir.path().join("junk"), b"not sqlite at all, not at all").unwrap();
        assert!(JavaDb::open(&dir.path().join("junk")).is_err());
    }
}
