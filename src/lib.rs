#![warn(missing_docs)]
//! certdx: find out why cert-manager will not issue a certificate.
//!
//! The layers, each depending only on the ones above it (docs/ARCHITECTURE.md):
//! [`model`] (cert-manager types, the chain, findings), [`source`] (where objects come from),
//! [`checks`] (the playbook checks), [`diagnose`] (picks checks, names the root cause),
//! [`report`] (Markdown / JSON / HTML) and [`cli`] (the commands).

pub mod actions;
pub mod checks;
pub mod cli;
pub mod diagnose;
pub mod engine;
pub mod model;
pub mod report;
pub mod source;
pub mod tui;
