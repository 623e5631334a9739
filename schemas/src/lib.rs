//! `schemas`: the federation's wire layer. Every service reaches XML only through this crate:
//! one parser (`xml`), exclusive canonicalization, XML Signature in a strict profile (`dsig`) whose
//! verification returns the exact canonical bytes that were digested, XML Encryption (`xenc`), and
//! the typed messages of SAML 2.0 (`saml`), its bindings (`binding`), SOAP 1.1 (`soap`) and
//! ID-WSF 2.0 (`idwsf`), built from those bytes.

pub mod binding;
pub mod dsig;
pub mod idwsf;
pub mod ns;
pub mod saml;
pub mod soap;
pub mod trust;
pub mod websso;
pub mod wsf;
pub mod xenc;
pub mod xml;
