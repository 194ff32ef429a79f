//! Provenance that every part of generec agrees on, with no service in it:
//! the manifest and its canonical encoding ([`manifest`]), key ids and
//! public keys ([`keys`]), the in-text mark and soft binding
//! ([`watermark`]), signed notes and checkpoints ([`note`]), RFC 6962
//! hashing and proofs ([`merkle`]), the log entries an auditor reads
//! ([`entry`]), what ids, names and hashes may look like ([`ids`]), and the
//! one function that verifies an offline audit bundle ([`audit`]).
//!
//! The trust service signs with it, the corpus and the feed check
//! manifests with it, and `generec verify` runs [`audit::verify_bundle`],
//! so the online and offline verdicts come from the same code.

pub mod audit;
pub mod entry;
pub mod ids;
pub mod keys;
pub mod manifest;
pub mod merkle;
pub mod note;
pub mod watermark;
