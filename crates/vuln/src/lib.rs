//! Vulnerability scanning: version ordering per ecosystem, package databases of a root
//! filesystem, OSV advisories and matching. Pure apart from [`pkgdb`] and [`osv::load_dir`],
//! which read files under a root the caller names.

pub mod cvss;
pub mod files;
pub mod ignore;
pub mod image;
pub mod lang;
pub mod license;
mod license_map;
pub mod osv;
pub mod pkgdb;
pub mod sbom;
pub mod scan;
pub mod trivydb;
pub mod version;
